"""How the book writes a number that spans orders of magnitude: 7.06 × 10¹³ rather than 7.06e+13."""

from __future__ import annotations

import math

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
