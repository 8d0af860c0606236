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


def column_spec(rows: list[list[str]], wrap_beyond: int = WRAP_CHARACTERS) -> str:
    """A tabular column spec for ``rows`` (lists of cell texts): every column ``l`` while the widest
    row has at most ``wrap_beyond`` characters; otherwise columns longer than :data:`SHORT_COLUMN`
    become ragged-right paragraph columns sharing what the short columns leave of the line: each
    first gets room for its longest word (at most :data:`SHORT_COLUMN` characters), the rest in
    proportion to its longest cell."""
    width = max(len(row) for row in rows)
    lengths = [max((len(row[i]) for row in rows if i < len(row)), default=0) for i in range(width)]
    if sum(lengths) <= wrap_beyond:
        return "l" * width
    words = [max((len(word) for row in rows if i < len(row) for word in row[i].split()), default=0) for i in range(width)]
    long_total = sum(n for n in lengths if n > SHORT_COLUMN)
    left = max(1 - sum(n + 2 for n in lengths if n <= SHORT_COLUMN) / LINE_CHARACTERS, 0.3)
    # each wrapped column first gets room for its longest word (up to SHORT_COLUMN characters), so that a
    # short verdict beside a long rule is not squeezed to a letter a line; the rest goes by length
    floors = [min(w, SHORT_COLUMN) / LINE_CHARACTERS if n > SHORT_COLUMN else 0.0 for n, w in zip(lengths, words)]
    rest = max(left - sum(floors), 0.0)
    return "".join(
        "l" if n <= SHORT_COLUMN else rf">{{\raggedright\arraybackslash}}p{{{0.95 * (floor + rest * n / long_total):.3f}\linewidth}}"
        for n, floor in zip(lengths, floors)
    )


def styler_latex(styler: Styler) -> str:
    """A booktabs table of what ``styler`` displays (its formats applied, hidden index and columns
    left out). Long text columns wrap (:func:`column_spec`); a table still too large for the page is
    scaled down to it; one with more than :data:`LONG_TABLE_ROWS` rows is a ``longtable`` that breaks
    across pages, its header repeated (its caption, when the book gives it one, goes inside:
    :mod:`helpers.publish.sphinx_fixes`)."""
    values = styler._translate(sparse_index=False, sparse_cols=False)  # noqa: SLF001: the displayed strings

    def cells(row: list[dict]) -> list[str]:
        return [html.unescape(TAG.sub("", str(c["display_value"]))).strip() for c in row if c.get("is_visible", True)]

    head, body = [cells(row) for row in values["head"]], [cells(row) for row in values["body"]]
    width = max(len(row) for row in head + body)
    line = lambda row: " & ".join(map(escape, row + [""] * (width - len(row)))) + r" \\"  # noqa: E731
    header = [r"\toprule", *map(line, head), r"\midrule"]
    if len(body) > LONG_TABLE_ROWS:
        spec = column_spec(head + body, wrap_beyond=LINE_CHARACTERS)
        return "\n".join(
            [
                r"\begingroup\small",
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
        r"\begin{tabular}{" + column_spec(head + body) + "}",
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
