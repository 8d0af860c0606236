"""How the book writes a number that spans orders of magnitude: 7.06 × 10¹³ rather than 7.06e+13."""

from __future__ import annotations

import math
import numbers

import numpy as np

SUPERSCRIPTS = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def sci(value: float, digits: int = 3) -> str:
    """``value`` with ``digits`` significant digits as 'm × 10ᵉ' (plain form for 0.01 ≤ |x| < 10⁴)."""
    if value == 0 or not math.isfinite(value):
        return str(value)
    exponent = math.floor(math.log10(abs(value)))
    if -2 <= exponent < 4:
        return f"{value:.{max(digits - 1 - exponent, 0)}f}"
    mantissa = value / 10**exponent
    if round(mantissa, digits - 1) >= 10:
        mantissa, exponent = mantissa / 10, exponent + 1
    return f"{mantissa:.{digits - 1}f} × 10{str(exponent).translate(SUPERSCRIPTS)}"


def readable(value: object) -> str:
    """Any table cell as a reader should see it (the one formatter of every table, set as pandas'
    Styler default by :func:`helpers.publish.notebook.start`): whole numbers with thousands separators
    (1,570,000, not 1570000.0), three significant digits in plain form from 10⁻³ to 10⁴ and
    :func:`sci` outside it, '–' for a missing value, yes/no for a flag, text as it is."""
    if value is None:
        return "–"
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    if isinstance(value, numbers.Integral):
        return f"{int(value):,}"
    if isinstance(value, numbers.Real):
        number = float(value)
        if not math.isfinite(number):
            return "–" if math.isnan(number) else ("∞" if number > 0 else "−∞")
        size = abs(number)
        if number.is_integer() and size < 1e15:
            return f"{int(number):,}"
        if size >= 1e4 or size < 1e-3:
            return sci(number, 3)
        if size >= 100:
            return f"{number:,.0f}"
        return f"{number:.3g}"
    return str(value)


#: Words of a column name written as the field writes them (l0 → L0), whole names first.
NAMES = {"r_squared": "R²", "n_c": "N_c", "r_low": "r, low", "r_high": "r, high"}
WORDS = {
    "l0": "L0",
    "mse": "MSE",
    "nmse": "normalised MSE",
    "ce": "CE",
    "lm": "LM",
    "sae": "SAE",
    "saes": "SAEs",
    "spearman": "Spearman",
    "alpha": "α",
    "beta": "β",
    "gamma": "γ",
    "nn": "NN",
}
#: A Greek letter with a one-letter subscript (α_m → αₘ).
SUBSCRIPTS = {"m": "ₘ", "n": "ₙ", "k": "ₖ", "i": "ᵢ", "j": "ⱼ", "0": "₀", "1": "₁", "2": "₂"}


def display_name(column: object) -> object:
    """A snake_case column name in words, with the field's abbreviations (mean_universality → mean
    universality, ce_clean → CE clean, r_squared → R², α_m → αₘ); other names unchanged."""
    if not isinstance(column, str):
        return column
    greek, _, index = column.partition("_")
    if len(greek) == 1 and "α" <= greek <= "ω" and index in SUBSCRIPTS:
        return greek + SUBSCRIPTS[index]
    if "_" not in column and column not in WORDS:
        return column
    if column in NAMES:
        return NAMES[column]
    if not column.replace("_", "").isalnum():
        return column
    return " ".join(WORDS.get(word, word) for word in column.split("_"))
