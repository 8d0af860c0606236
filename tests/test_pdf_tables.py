"""The PDF's side of the build, checked without TeX: tables as LaTeX, and a clear stop when the
PDF's tools are missing."""

import re

import pandas as pd
import pytest

from helpers import runner
from helpers.publish.pdf_tables import (
    COLUMN_PADDING,
    LINE_CHARACTERS,
    LONG_TABLE_ROWS,
    column_needs,
    column_spec,
    escape,
    long_table_size,
    printed_lines,
    styler_latex,
    styler_markdown,
)


def test_escape_by_hand():
    assert escape(r"a_b 5% {x} e^(-1) ~ \ & #$") == r"a\_b 5\% \{x\} e\textasciicircum{}(-1) \textasciitilde{} \textbackslash{} \& \#\$"


def test_styler_table_shows_what_the_html_shows():
    frame = pd.DataFrame({"share_x": [0.12345, 2.0], "name": ["<a & b>", "50%"], "hidden": [1, 2]})
    styler = frame.style.format({"share_x": "{:.1%}"}, escape="html").hide(axis="index").hide(["hidden"], axis="columns")
    lines = styler_latex(styler).splitlines()
    assert lines[1] == r"\begin{tabular}{ll}"
    assert lines[3:8] == [r"share\_x & name \\", r"\midrule", r"12.3\% & <a \& b> \\", r"200.0\% & 50\% \\", r"\bottomrule"]
    assert styler_markdown(styler).startswith("```{raw} latex\n") and styler_markdown(styler).endswith("\n```")


def test_links_keep_their_text_in_print():
    frame = pd.DataFrame({"latent": ['<a href="../latents/index.html#L8-d96/3">L8-d96 #3</a>'], "test": ["r < 0.5 and r > 0.3"]})
    latex = styler_latex(frame.style.hide(axis="index"))
    assert "L8-d96 \\#3" in latex and "href" not in latex and "r < 0.5 and r > 0.3" in latex


def test_pivot_keeps_every_header_row_and_the_index():
    frame = pd.DataFrame({"pair": ["a", "a", "b"], "tau": [0.5, 0.7, 0.5], "v": [1.0, 2.0, 3.0]})
    lines = styler_latex(frame.pivot(index="pair", columns="tau", values="v").style.format(precision=1)).splitlines()
    # column labels as the HTML shows them (Styler's default precision for headers)
    assert lines[3:5] == [r"tau & 0.500000 & 0.700000 \\", r"pair &  &  \\"]
    assert lines[6:8] == [r"a & 1.0 & 2.0 \\", r"b & 3.0 & nan \\"]


def test_missing_pdf_tools_are_named_with_their_debian_package(monkeypatch):
    monkeypatch.setattr(runner.shutil, "which", lambda name: None)
    missing = runner.missing_pdf_tools()
    assert "xelatex (Debian package texlive-xetex)" in missing and "latexmk (Debian package latexmk)" in missing


def test_pdf_command_stops_before_executing_when_tools_are_missing(monkeypatch, capsys):
    monkeypatch.setattr(runner, "missing_pdf_tools", lambda: ["xelatex (Debian package texlive-xetex)"])
    monkeypatch.setattr(runner, "execute", lambda *a, **k: pytest.fail("executed although the PDF cannot be built"))
    with pytest.raises(SystemExit):
        runner.main(["pdf", "--preset", "smoke"])
    assert "texlive-xetex" in capsys.readouterr().err


def test_narrow_tables_keep_plain_columns_and_wide_text_wraps_by_hand():
    assert column_spec([["claim", "verdict"], ["a", "yes"]]) == "ll"
    # lengths 5, 200, 2: the short columns' 7 characters and three columns' padding (12 pt of 468 each)
    # leave 1 − 7/110 − 3 × 12/468 = 0.85944 of the line, all of it to the long one
    assert column_spec([["claim", "x" * 200, "ok"]]) == r"l>{\raggedright\arraybackslash}p{0.859\linewidth}l"
    # lengths 10, 150, 50: 1 − 10/110 − 3 × 12/468 = 0.83217 left; each long column first gets 16/110 =
    # 0.14545 (its one word, capped at SHORT_COLUMN), the remaining 0.54126 shared 3:1 →
    # 0.14545 + 0.40594 = 0.551 and 0.14545 + 0.13531 = 0.281 of the line
    spec = column_spec([["y" * 10, "x" * 150, "z" * 50]])
    assert spec == r"l>{\raggedright\arraybackslash}p{0.551\linewidth}>{\raggedright\arraybackslash}p{0.281\linewidth}"


def test_a_short_verdict_beside_a_long_rule_keeps_room_for_its_words():
    """The verdict ladder's shape: a 26-character verdict beside a 300-character rule."""
    spec = column_spec([["claim", "a rule " * 43, "inconclusive at this scale"]])
    widths = [float(w) for w in re.findall(r"p\{([0-9.]+)\\linewidth\}", spec)]
    assert widths[1] >= 12 / LINE_CHARACTERS  # "inconclusive" fits on one line


def test_wide_table_wraps_in_latex():
    frame = pd.DataFrame({"claim": ["importance predicts universality"], "rule": ["interval of the mean r " * 8], "verdict": ["no"]})
    lines = styler_latex(frame.style.hide(axis="index")).splitlines()
    assert lines[1].count(r">{\raggedright\arraybackslash}p{") == 2 and lines[1].endswith(r"\linewidth}l}")  # claim and rule wrap


def test_long_table_breaks_across_pages_with_its_header_repeated():
    frame = pd.DataFrame({"pair": [f"L8-d{i} #0" for i in range(LONG_TABLE_ROWS + 1)], "r": [0.5] * (LONG_TABLE_ROWS + 1)})
    lines = styler_latex(frame.style.format({"r": "{:.3f}"}).hide(axis="index")).splitlines()
    assert lines[:2] == [r"\begingroup\small", r"\begin{longtable}{ll}"]
    assert lines.count(r"pair & r \\") == 2 and lines.index(r"\endfirsthead") < lines.index(r"\endhead")
    assert lines[-3:] == [r"\bottomrule", r"\end{longtable}", r"\endgroup"] and r"L8-d0 \#0 & 0.500 \\" in lines
    short = styler_latex(frame.head(LONG_TABLE_ROWS).style.hide(axis="index")).splitlines()
    assert short[0].startswith(r"\begin{adjustbox}") and "longtable" not in "".join(short)


def test_many_columns_all_wrap_in_proportion_to_what_they_need():
    """Ten columns whose short ones alone overrun the line (Table 5.1's shape): every column wraps, its
    header may too, and the widths with their padding fill the line."""
    head = ["scored", "against", "r", "95% CI (latents)", "Spearman", "original fit", "R²", "x < c", "R² (inverse density)", "R² (unweighted)"]
    body = ["L8-d96 #0", "L8-d64 #1", "0.123", "[0.01, 0.20]", "0.111", "a = 0.50, b = 3.0, c = 0.10", "0.12", "12%", "0.05", "0.04"]
    rows = [head] + [body] * 30
    assert column_needs(rows, header_rows=1) == [9, 9, 5, 12, 8, 27, 4, 3, 8, 12]  # "(inverse" and "(unweighted)" are header words
    widths = [float(w) for w in re.findall(r"p\{([0-9.]+)\\linewidth\}", column_spec(rows, wrap_beyond=LINE_CHARACTERS, header_rows=1))]
    assert len(widths) == 10 and sum(widths) + 10 * COLUMN_PADDING == pytest.approx(1, abs=0.005)
    assert widths[5] == pytest.approx((1 - 10 * COLUMN_PADDING) * 28 / 107, abs=0.001)  # each column's need + 1
    assert long_table_size(rows, 1) == r"\small" and long_table_size([["x" * 150]], 0) == r"\scriptsize"


def test_a_tall_table_breaks_across_pages_instead_of_shrinking():
    """Twenty rows of a 300-character rule wrap to far more than a page of lines: a longtable, not a
    table scaled to a page's height (chapter 10's tables were set at 3 pt that way)."""
    frame = pd.DataFrame({"claim": ["importance predicts universality"] * 20, "rule": ["a rule " * 43] * 20})
    assert printed_lines([["a", "x" * 300]], r"l>{\raggedright\arraybackslash}p{0.5\linewidth}") == 6  # 300 / 55 characters a line
    lines = styler_latex(frame.style.hide(axis="index")).splitlines()
    assert r"\begin{longtable}" in lines[1] and "adjustbox" not in "".join(lines)
