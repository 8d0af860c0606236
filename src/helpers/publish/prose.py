"""Numbers for the prose: every value the text quotes is glued from code (myst-nb ``glue``).

``{glue:text}`name:.3f``` suits plain numbers; quantities spanning orders of magnitude are glued as
Markdown (``{glue:md}`name```) so that they read as 7.06 × 10¹³ rather than 7.06e+13.

Figures and tables are glued too (:func:`glue_figure`, :func:`glue_table`) and placed by the text
with ``{glue:figure}`name``` under a ``:name:`` label and a caption, so that each is numbered
(Figure 3.1, Table 3.1) and cross-referenced with ``{numref}``, in the HTML and in the PDF alike.
"""

from __future__ import annotations

import re

import numpy as np

from helpers.core.numbers import display_name, readable
from helpers.core.numbers import sci as sci  # the prose's number format, shared with the chapters' tables


def glue_markdown(name: str, text: str) -> None:
    """Glue a Markdown fragment (read it with ``{glue:md}`name```)."""
    from IPython.display import Markdown
    from myst_nb import glue

    glue(name, Markdown(text), display=False)


def glue_figure(name: str, figure) -> None:
    """Glue a matplotlib ``figure`` (in every inline format the book uses, log axes tidied by
    :func:`helpers.publish.plotting.tidy_log_ticks`) and close it. The notebook
    shows it in place (JupyterLab); the book pastes it, numbered and captioned, where the text says
    ``{glue:figure}`name```, and leaves the cell's own output out (its tag ``remove-output``)."""
    import matplotlib.pyplot as plt
    from myst_nb import glue

    from helpers.publish.plotting import tidy_log_ticks

    tidy_log_ticks(figure)
    glue(name, figure)
    plt.close(figure)


#: What a float's e-notation looks like in a formatted cell (1.57e+06, 6.1e-06).
E_NOTATION = re.compile(r"\de[+-]?\d")
#: Five or more digits in a row (1570000.000): a count without its thousands separators.
LONG_DIGITS = re.compile(r"\d{5}")
#: A non-zero number printed as zero (0.000 for 6.1e-06).
ZERO = re.compile(r"^-?0\.0+$")
#: A small negative number rounded to a signed zero (-0.00), which reads as a different value from 0.00.
NEGATIVE_ZERO = re.compile(r"^[-−]0(\.0+)?$")


def readable_styler(table):
    """A ``DataFrame`` or pandas ``Styler`` as the book shows tables: a frame's default row numbers left
    out, column and axis names in words (:func:`helpers.core.numbers.display_name`), and every missing
    value written '–', also in columns the chapter formats itself (pandas applies its ``na_rep`` option
    only to cells without an explicit format, so each cell's formatter is wrapped: ``_display_funcs``,
    pandas' per-cell formatters, at the pinned version), as are flags and numbers a chapter's format
    would print as False or 1.57e+06; numeric row labels are written the same way."""
    import pandas as pd

    if isinstance(table, pd.DataFrame):
        styler = table.style
        if isinstance(table.index, pd.RangeIndex):
            styler = styler.hide(axis="index")
        table = styler
    frame = table.data
    frame.index = frame.index.set_names([display_name(n) for n in frame.index.names])
    frame.columns = frame.columns.set_names([display_name(n) for n in frame.columns.names])
    for row in range(frame.shape[0]):
        for column in range(frame.shape[1]):
            table._display_funcs[(row, column)] = _polished(table._display_funcs[(row, column)])
    return table.format_index(display_name, axis="columns").format_index(_index_label, axis="index")


def _polished(show):
    """A cell formatter that leaves no 'nan', 'False', e-notation, digits without thousands separators
    or a non-zero number shown as 0.000: those values go through :func:`helpers.core.numbers.readable`
    instead, whatever the chapter's own format."""
    import numbers

    def cell(value):
        if value is None or isinstance(value, bool | np.bool_) or (isinstance(value, numbers.Real) and not np.isfinite(value)):
            return readable(value)
        text = str(show(value))
        if isinstance(value, numbers.Real) and (E_NOTATION.search(text) or LONG_DIGITS.search(text) or (value != 0 and ZERO.match(text))):
            return readable(value)
        return text[1:] if NEGATIVE_ZERO.match(text) else text

    return cell


def _index_label(label):
    """A row label as a reader should see it: numbers through :func:`helpers.core.numbers.readable`."""
    import numbers

    return readable(label) if isinstance(label, numbers.Real) else label


def glue_table(name: str, table) -> None:
    """Glue a table (a ``DataFrame`` or a pandas ``Styler``, shown by :func:`readable_styler`) as
    :func:`glue_figure` glues a figure; the book numbers it as a table (see
    :mod:`helpers.publish.sphinx_fixes`)."""
    from myst_nb import glue

    glue(name, readable_styler(table))


def glue_sci(name: str, value: float, digits: int = 3) -> None:
    """Glue ``value`` as Markdown in scientific notation (read it with ``{glue:md}`name```)."""
    glue_markdown(name, sci(value, digits))


def plain(value):
    """A numpy scalar as the Python number it holds (its repr must parse as a number for glue)."""
    return value.item() if hasattr(value, "item") and getattr(value, "ndim", None) == 0 else value


def glue_values(**values: float | int | str) -> None:
    """Glue several plain values at once (read them with ``{glue:text}`name:format```)."""
    from myst_nb import glue

    for name, value in values.items():
        glue(name, plain(value), display=False)


def numbered(texts, prefix: str = "R") -> dict[str, str]:
    """Each distinct text of ``texts`` → its label (R1, R2, …), in order of first appearance: a
    table then names a long rule by its label and the rules are listed once below it."""
    labels: dict[str, str] = {}
    for text in texts:
        labels.setdefault(text, f"{prefix}{len(labels) + 1}")
    return labels


def numbered_list(labels: dict[str, str]) -> str:
    """The texts of :func:`numbered` as a Markdown list, each after its label in bold."""
    return "\n".join(f"- **{label}.** {text}" for text, label in labels.items())
