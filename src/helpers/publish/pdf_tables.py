"""The chapters' tables in the PDF too: every pandas ``Styler`` a cell shows also carries a
``text/markdown`` form (so does every ``DataFrame``), a MyST ``{raw} latex`` block holding a table of its displayed, formatted
values. The LaTeX build renders it (myst-nb ranks Markdown above plain text there, and the book
parses output Markdown as MyST); the HTML build shows the ``text/html`` form, which it ranks first.
"""

from __future__ import annotations

import html
import re

import pandas as pd
from pandas.io.formats.style import Styler

#: LaTeX for each character that is special to it in a displayed (plain-text) value.
SPECIAL = {
    "\\": r"\textbackslash{}",
    "%": r"\%",
    "#": r"\#",
    "_": r"\_",
    "$": r"\$",
    "&": r"\&",
    "{": r"\{",
    "}": r"\}",
    "^": r"\textasciicircum{}",
    "~": r"\textasciitilde{}",
}
PATTERN = re.compile("|".join(map(re.escape, SPECIAL)))
#: A link's tags in a displayed value (the web page's links to the latent browser); the PDF keeps the text inside.
TAG = re.compile(r"</?a\b[^<>]*>")


def escape(text: str) -> str:
    """Plain ``text`` as LaTeX: each special character replaced by its LaTeX form."""
    return PATTERN.sub(lambda match: SPECIAL[match.group()], text)


#: About how many characters of a table's text fit across the page at the book's size.
LINE_CHARACTERS = 110
#: A table wider than this many characters wraps its long columns; a narrower one is scaled down to fit.
WRAP_CHARACTERS = 160
#: Columns whose longest cell has at most this many characters are never wrapped.
SHORT_COLUMN = 16
#: A table with more body rows than this is typeset as a ``longtable``, which breaks across pages.
LONG_TABLE_ROWS = 25


#: The share of the line a column's padding takes (2 \tabcolsep of 6 pt on the 468 pt line).
COLUMN_PADDING = 12 / 468


def column_spec(rows: list[list[str]], wrap_beyond: int = WRAP_CHARACTERS, header_rows: int = 0) -> str:
    """A tabular column spec for ``rows`` (lists of cell texts, the first ``header_rows`` of them the
    header): every column ``l`` while the widest row has at most ``wrap_beyond`` characters; otherwise
    columns longer than :data:`SHORT_COLUMN` become ragged-right paragraph columns sharing what the
    short columns and every column's padding leave of the line: each first gets room for its longest
    word (at most :data:`SHORT_COLUMN` characters), the rest in proportion to its longest cell. When the short
    columns alone leave under 30% of the line (many columns), every column wraps instead
    (:func:`proportional_spec`)."""
    width = max(len(row) for row in rows)
    lengths = [max((len(row[i]) for row in rows if i < len(row)), default=0) for i in range(width)]
    if sum(lengths) <= wrap_beyond:
        return "l" * width
    words = [max((len(word) for row in rows if i < len(row) for word in row[i].split()), default=0) for i in range(width)]
    long_total = sum(n for n in lengths if n > SHORT_COLUMN)
    left = 1 - sum(n for n in lengths if n <= SHORT_COLUMN) / LINE_CHARACTERS - width * COLUMN_PADDING
    if left < 0.3:
        return proportional_spec(rows, header_rows)
    # each wrapped column first gets room for its longest word (up to SHORT_COLUMN characters), so that a
    # short verdict beside a long rule is not squeezed to a letter a line; the rest goes by length
    floors = [min(w, SHORT_COLUMN) / LINE_CHARACTERS if n > SHORT_COLUMN else 0.0 for n, w in zip(lengths, words)]
    rest = max(left - sum(floors), 0.0)
    return "".join(
        "l" if n <= SHORT_COLUMN else rf">{{\raggedright\arraybackslash}}p{{{floor + rest * n / long_total:.3f}\linewidth}}"
        for n, floor in zip(lengths, floors)
    )


def column_needs(rows: list[list[str]], header_rows: int) -> list[int]:
    """Characters each column needs when its header may wrap: its longest body cell, or its header's
    longest word, at least two."""
    head, body = rows[:header_rows], rows[header_rows:]
    return [
        max(
            max((len(row[i]) for row in body if i < len(row)), default=0),
            max((len(word) for row in head if i < len(row) for word in row[i].split()), default=0),
            2,
        )
        for i in range(max(len(row) for row in rows))
    ]


def proportional_spec(rows: list[list[str]], header_rows: int) -> str:
    """Every column a ragged-right paragraph column, its share of the line (less each column's
    padding) in proportion to :func:`column_needs`, each with a character to spare."""
    need = [n + 1 for n in column_needs(rows, header_rows)]  # a character to spare: a number such as -0.008 never breaks
    room = 1 - len(need) * COLUMN_PADDING
    return "".join(rf">{{\raggedright\arraybackslash}}p{{{room * n / sum(need):.3f}\linewidth}}" for n in need)


#: Type sizes for a long table, each with the share of the normal size's characters per line it fits.
LONG_TABLE_SIZES = ((r"\small", 0.9), (r"\footnotesize", 0.8), (r"\scriptsize", 0.7))


def long_table_size(rows: list[list[str]], header_rows: int) -> str:
    """The largest of :data:`LONG_TABLE_SIZES` at which the columns' needs and padding fit the line
    (a long table cannot be scaled down as a whole); the smallest when none does."""
    need = column_needs(rows, header_rows)
    characters = sum(need) + 2 * len(need)
    return next((size for size, scale in LONG_TABLE_SIZES if characters * scale <= LINE_CHARACTERS), LONG_TABLE_SIZES[-1][0])


#: A table whose rows, wrapped, take more lines than this breaks across pages (``longtable``) rather
#: than being shrunk to fit one.
LONG_TABLE_LINES = 40


def printed_lines(rows: list[list[str]], spec: str) -> int:
    """About how many printed lines ``rows`` take under ``spec``: per row, its tallest wrapped cell."""
    columns = re.findall(r">\{\\raggedright\\arraybackslash\}p\{([0-9.]+)\\linewidth\}|(l)", spec)
    widths = [float(p) if p else None for p, _ in columns]
    total = 0
    for row in rows:
        heights = [1 if w is None else -(-len(cell) // max(int(w * LINE_CHARACTERS), 1)) for cell, w in zip(row, widths)]
        total += max(heights, default=1)
    return total


def styler_latex(styler: Styler) -> str:
    """A booktabs table of what ``styler`` displays (its formats applied, hidden index and columns
    left out). Long text columns wrap (:func:`column_spec`); a table still too large for the page is
    scaled down to it; one with more than :data:`LONG_TABLE_ROWS` rows, or whose wrapped rows take more
    than :data:`LONG_TABLE_LINES` lines, is a ``longtable`` that breaks across pages at the largest
    type that fits (:func:`long_table_size`), its header repeated (its caption, when the book gives it
    one, goes inside: :mod:`helpers.publish.sphinx_fixes`)."""
    # the displayed strings, as the HTML shows them (a private pandas method, at the pinned version)
    values = styler._translate(sparse_index=False, sparse_cols=False)  # noqa: SLF001

    def cells(row: list[dict]) -> list[str]:
        return [html.unescape(TAG.sub("", str(c["display_value"]))).strip() for c in row if c.get("is_visible", True)]

    head, body = [cells(row) for row in values["head"]], [cells(row) for row in values["body"]]
    width = max(len(row) for row in head + body)
    line = lambda row: " & ".join(map(escape, row + [""] * (width - len(row)))) + r" \\"  # noqa: E731
    header = [r"\toprule", *map(line, head), r"\midrule"]
    if len(body) > LONG_TABLE_ROWS or printed_lines(body, column_spec(head + body, header_rows=len(head))) > LONG_TABLE_LINES:
        spec = column_spec(head + body, wrap_beyond=LINE_CHARACTERS, header_rows=len(head))
        return "\n".join(
            [
                r"\begingroup" + long_table_size(head + body, len(head)),
                r"\begin{longtable}{" + spec + "}",
                *header,
                r"\endfirsthead",
                *header,
                r"\endhead",
                *map(line, body),
                r"\bottomrule",
                r"\end{longtable}",
                r"\endgroup",
            ]
        )
    lines = [
        r"\begin{adjustbox}{max width=\linewidth, max totalheight=0.85\textheight}",
        r"\begin{tabular}{" + column_spec(head + body, header_rows=len(head)) + "}",
        *header,
        *map(line, body),
        r"\bottomrule",
        r"\end{tabular}",
        r"\end{adjustbox}",
    ]
    return "\n".join(lines)


def styler_markdown(styler: Styler) -> str:
    """:func:`styler_latex` as a MyST raw-LaTeX block."""
    return "```{raw} latex\n" + styler_latex(styler) + "\n```"


def register() -> None:
    """Give every ``Styler`` displayed in this IPython kernel a ``text/markdown`` form (no-op outside IPython)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is not None:
        markdown = shell.display_formatter.formatters["text/markdown"]
        markdown.for_type(Styler, styler_markdown)
        markdown.for_type(pd.DataFrame, lambda frame: styler_markdown(frame.style))
