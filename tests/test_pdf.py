"""The PDF built from the executed chapters (``make pdf``), read as a reader would: its chapters in
the book's order, the headline numbers of chapters 1 and 5 exactly as the HTML pages show them,
no unresolved reference and no raw TeX, every page rendered, no text past the margins, overprinted or too small
to read, and every HTML page linking it.

The tests need ``_build/latex/book.pdf`` beside a built site (``BOOK_PDF`` and ``BOOK_HTML`` point
elsewhere) and poppler's ``pdftotext``/``pdftohtml``/``pdftoppm``. Without them they skip with the reason, unless
``REQUIRE_PDF=1`` (set by ``make test-pdf`` and ``.ci/run``), where they fail instead.
"""

from __future__ import annotations

import collections
import dataclasses
import functools
import html
import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from xml.etree import ElementTree

import pytest
from book_source import numbered

from helpers import runner
from helpers.core import paths
from helpers.publish import toc

pytestmark = pytest.mark.pdf

ROOT = paths.project_root()
PDF = Path(os.environ.get("BOOK_PDF", ROOT / "_build" / "latex" / runner.BOOK_PDF))
HTML = Path(os.environ.get("BOOK_HTML", ROOT / "_build" / "html"))
#: Headline numbers, as the prose formats them: chapter 1's refit of the talk's law, chapter 5's mean r.
HEADLINES = {"01_scaling_laws": ["refit_alpha:.4f", "talk_alpha:.4f"], "05_universality": ["cross_r:.3f", "cross_low:.3f", "cross_high:.3f"]}


def require(condition: bool, reason: str) -> None:
    if not condition:
        if os.environ.get("REQUIRE_PDF") == "1":
            pytest.fail(reason)
        pytest.skip(reason)


@functools.cache
def pdf_text() -> str:
    require(PDF.exists(), f"no PDF at {PDF}: run `make pdf` first (or set BOOK_PDF)")
    require(shutil.which("pdftotext") is not None, "pdftotext not found (Debian package poppler-utils)")
    return subprocess.run(["pdftotext", "-layout", str(PDF), "-"], capture_output=True, text=True, check=True).stdout


def page_text(chapter: str) -> str:
    page = HTML / "notebooks" / f"{chapter}.html"
    require(page.exists(), f"no built page at {page}: run `make pdf` (or set BOOK_HTML)")
    return html.unescape(re.sub(r"<[^>]+>", "", page.read_text()))


def glued_value(chapter: str, reference: str) -> str:
    """The value glued as ``reference`` (``name:format``) in the executed chapter, formatted as the prose formats it."""
    name, _, spec = reference.partition(":")
    executed = json.loads((HTML.parent / "stage" / "notebooks" / f"{chapter}.ipynb").read_text())
    for cell in executed["cells"]:
        for output in cell.get("outputs", []):
            scrapbook = output.get("metadata", {}).get("scrapbook", {})
            if scrapbook.get("name") == name:
                value = output["data"][scrapbook.get("mime_prefix", "") + "text/plain"]
                return format(float(value), spec) if spec else value.strip("'")
    raise AssertionError(f"{chapter} glues no {name}")


def test_chapters_appear_numbered_and_in_book_order():
    text = pdf_text()
    positions = []
    for number, chapter in enumerate(toc.chapters_in_book_order(ROOT), start=1):
        first_cell = json.loads((ROOT / "notebooks" / f"{chapter}.ipynb").read_text())["cells"][0]["source"]
        title = next(line for line in first_cell if line.startswith("# "))  # after the chapter's label
        start = re.sub(r"[*_`]", "", title.removeprefix("# ")).split("$")[0].strip()  # as typeset: no markup
        match = re.search(rf"^\s*{number}\s+{re.escape(start)}", text, flags=re.MULTILINE)
        assert match, f"chapter {number} ({start!r}) is not in the PDF's contents"
        positions.append(match.start())
    assert positions == sorted(positions)
    assert "Abstract" in text and "Bibliography" in text


@pytest.mark.parametrize("chapter", sorted(HEADLINES))
def test_headline_numbers_match_the_html(chapter):
    text, page = pdf_text(), page_text(chapter)
    for reference in HEADLINES[chapter]:
        value = glued_value(chapter, reference)
        assert value in page, f"{reference} = {value} is not on the HTML page"
        assert value in text, f"{reference} = {value} is not in the PDF"


def test_no_unresolved_reference_and_no_raw_tex():
    text = pdf_text()
    assert "??" not in text
    assert "\\(" not in text and "$$" not in text and "\\begin{" not in text


def test_every_figure_and_table_is_a_numbered_float_with_its_caption():
    text = pdf_text()
    tex = (PDF.parent / "book.tex").read_text()
    tex = tex[tex.index("\\chapter{") :]  # the chapters (the findings at a glance before them are front matter)
    floats = re.findall(r"\\begin\{(figure|table|longtable)\}(.*?)\\end\{\1\}", tex, flags=re.DOTALL)
    assert all("\\caption{" in body for _, body in floats)
    outside = re.sub(r"\\begin\{(figure|table|longtable)\}.*?\\end\{\1\}", "", tex, flags=re.DOTALL)
    # each chapter's provenance (its parameters, as a plain table) is a record, not a result
    outside = re.sub(r"\\section\{Provenance\}.*?(?=\\chapter\{|\\end\{document\})", "", outside, flags=re.DOTALL)
    assert "\\sphinxincludegraphics" not in outside and "\\begin{tabular}" not in outside, "a picture or a table without a number"
    for number, chapter in enumerate(toc.chapters_in_book_order(ROOT), start=1):
        labels = numbered(chapter)
        for label, _ in labels:
            assert f"\\label{{\\detokenize{{notebooks/{chapter}:{label}}}}}" in tex, (chapter, label)
        for kind in ("Figure", "Table"):
            count = sum(k == kind for _, k in labels)
            assert (f"{kind} {number}.{count}:" in text) == (count > 0), (chapter, kind, count)
            assert f"{kind} {number}.{count + 1}:" not in text, (chapter, kind, count)
    assert len(floats) == sum(len(numbered(c)) for c in toc.chapters_in_book_order(ROOT))


def test_every_page_renders(tmp_path):
    require(shutil.which("pdftoppm") is not None, "pdftoppm not found (Debian package poppler-utils)")
    pdf_text()
    pages = int(re.search(r"Pages:\s+(\d+)", subprocess.run(["pdfinfo", str(PDF)], capture_output=True, text=True, check=True).stdout).group(1))
    subprocess.run(["pdftoppm", "-r", "20", "-png", str(PDF), str(tmp_path / "page")], check=True, capture_output=True)
    assert len(list(tmp_path.glob("page-*.png"))) == pages > 10


def test_every_html_page_links_the_pdf():
    pdf_text()
    published = HTML / runner.BOOK_PDF
    require(published.exists(), f"no {published}: the HTML was built before the PDF (run `make pdf`)")
    assert published.read_bytes() == PDF.read_bytes()
    pages = sorted([*HTML.glob("notebooks/*.html"), *HTML.glob("book/*.html")])
    assert len(pages) > 8
    for page in pages:
        assert re.search(r'href="\.\./book\.pdf"', page.read_text()), f"{page.name} does not link the PDF"


def test_it_reads_like_a_paper():
    """Findings right after the abstract, then what the book does, chapters headed by their number (no "CHAPTER ONE"), no page
    left nearly blank between chapters, nothing in print that only a live page can do, and no code line
    too long for the page (LaTeX wraps it with a red ↪)."""
    text = pdf_text()
    pages = text.split("\f")[:-1]
    assert not re.search(r"CHAPTER\s+(ONE|TWO|THREE)", text)
    abstract = text.index("Abstract")  # after the contents
    findings = text.index("Findings at a glance", abstract)
    introduction = text.index("What the book does", findings)  # the introduction's account opens the book, not an appendix
    assert re.compile(r"^\s*1\s+Scaling laws", re.M).search(text, introduction), "chapter 1 does not follow the findings and introduction"
    sparse = [number for number, page in enumerate(pages, start=1) if 0 < len(page.strip()) < 40]
    assert not sparse, f"nearly blank pages: {sparse}"
    assert not re.search(r"[Mm]ove the sliders|[Dd]rag the", text), "interactive-only wording in print"
    assert ",→" not in text and "↪" not in text, "a code line wrapped with LaTeX's continuation marker"


# The page as printed: every word's box as poppler reads it (pdftotext -bbox-layout), in pt from the page's top left.

#: How far (pt) a word may reach past the text block's left or right edge. The rotated axis labels of full-width
#: figures reach 1.8 pt into the left margin, and nothing else passes either edge by even 0.1 pt; an overfull line
#: or a table too wide for the page passes it by 8 pt and more.
MARGIN_TOLERANCE = 3.0
#: The smallest type (pt) any text may be set in: LaTeX's \tiny. Only a table shrunk to the text width (adjustbox,
#: \resizebox) comes out smaller; body text is 10 pt, footnotes 8, subscripts 7 and the book's tables 5.2 and up.
MIN_TEXT_SIZE = 5.0
#: Two words on one line run into each other when their boxes overlap sideways by more than this (pt).
OVERPRINT = 1.0
#: Fonts whose boxes are not their ink. Figures are matplotlib's vector PDF, their text DejaVu Sans in Type 3 fonts,
#: whose boxes poppler takes from the font's bounding box: the exponent of 10⁴ lies wholly inside its base's box
#: and heights run 0.7 to 1.3 times the size. TeX's math fonts set scripts into their base's box.
FIGURE_FONT = re.compile(r"DejaVu")
MATH_FONT = re.compile(r"^(CM|MSAM|MSBM)|Math")
CAPTION = re.compile(r"^(?:Table|Figure) \d+(?:\.\d+)?(?=:|\s+\S\s+continued)")
XHTML = "{http://www.w3.org/1999/xhtml}"


@dataclasses.dataclass(frozen=True)
class Word:
    page: int
    x0: float
    y0: float
    x1: float
    y1: float
    text: str
    line: str  # the text of the line poppler puts it in

    @property
    def height(self) -> float:  # the type size for the book's fonts: poppler's box spans the font's ascent and descent
        return self.y1 - self.y0


@dataclasses.dataclass
class Page:
    number: int
    width: float
    height: float
    lines: list[list[Word]]
    runs: list[tuple[float, float, float, float, str]]  # pdftohtml's text runs: box and font

    def font(self, word: Word) -> str:
        """The font of pdftohtml's text run at the word's centre; '' for rotated text, which pdftohtml leaves out."""
        x, y = (word.x0 + word.x1) / 2, (word.y0 + word.y1) / 2
        return next((font for x0, y0, x1, y1, font in self.runs if x0 - 1 <= x <= x1 + 1 and y0 - 1 <= y <= y1 + 1), "")

    def is_text(self, word: Word) -> bool:
        """Whether the word is the book's text (body, tables, captions): set in a known font, not a figure's or math's."""
        font = self.font(word)
        return bool(font) and not FIGURE_FONT.search(font) and not MATH_FONT.search(font)


@functools.cache
def pdf_layout() -> list[Page]:
    """The PDF's pages, lines and words with their boxes (pdftotext), and the fonts of its text (pdftohtml's XML,
    the only poppler output that names them)."""
    pdf_text()
    require(shutil.which("pdftohtml") is not None, "pdftohtml not found (Debian package poppler-utils)")
    bbox = subprocess.run(["pdftotext", "-bbox-layout", str(PDF), "-"], capture_output=True, text=True, check=True).stdout
    xml = subprocess.run(["pdftohtml", "-xml", "-i", "-q", "-stdout", "-zoom", "3", str(PDF)], capture_output=True, text=True, check=True).stdout
    pages = []
    for number, page in enumerate(ElementTree.fromstring(bbox).iter(XHTML + "page"), start=1):
        lines = []
        for line in page.iter(XHTML + "line"):
            words = [(*(float(word.get(k)) for k in ("xMin", "yMin", "xMax", "yMax")), word.text or "") for word in line.iter(XHTML + "word")]
            lines.append([Word(number, *word, " ".join(w[4] for w in words)) for word in words])
        pages.append(Page(number, float(page.get("width")), float(page.get("height")), lines, []))
    fonts: dict[str, str] = {}
    for chunk in xml.split("<page ")[1:]:
        number, width = (int(v) for v in re.match(r'number="(\d+)".*?width="(\d+)"', chunk).groups())
        page = pages[number - 1]
        scale = width / page.width  # pdftohtml's units: pt times the zoom
        for id_, family in re.findall(r'<fontspec id="(\d+)" size="-?\d+" family="([^"]*)"', chunk):
            fonts[id_] = re.sub(r"^[A-Z]{6}\+", "", family)  # less the subset's tag
        for top, left, w, h, font in re.findall(r'<text top="(-?\d+)" left="(-?\d+)" width="(-?\d+)" height="(-?\d+)" font="(\d+)"', chunk):
            x0, y0 = int(left) / scale, int(top) / scale
            page.runs.append((x0, y0, x0 + int(w) / scale, y0 + int(h) / scale, fonts[font]))
    return pages


def placer(pages: list[Page]):
    """A function naming where a word is: its page, its float and its section. A figure's caption is below it (the
    next caption or heading on the page); a table's is above it (the last caption or heading before the word);
    elsewhere the function names the last caption before the word."""
    marks = []  # (page, y, caption or not, text) in reading order
    for page in pages:
        for words in page.lines:
            if caption := CAPTION.match(words[0].line):
                marks.append((page.number, words[0].y0, True, caption.group()))
            elif re.fullmatch(r"\d+(\.\d+)*", words[0].text) and words[0].height >= 11.5 and len(words) > 1:  # a numbered heading
                marks.append((page.number, words[0].y0, False, words[0].line[:60]))
    marks.sort()

    def where(word: Word) -> str:
        before = [mark for mark in marks if mark[:2] <= (word.page, word.y0)]
        after = [mark for mark in marks if mark[:2] > (word.page, word.y0)]
        section = next((text for _, _, caption, text in reversed(before) if not caption), "front matter")
        if after and after[0][0] == word.page and after[0][3].startswith("Figure"):
            float_ = after[0][3]
        elif before and before[-1][2] and before[-1][3].startswith("Table"):
            float_ = before[-1][3]
        else:
            float_ = next((f"after {text}" for _, _, caption, text in reversed(before) if caption), "no caption")
        return f"page {word.page}, {float_}, section {section}"

    return where


def text_block(pages: list[Page]) -> tuple[float, float]:
    """The left and right edges of the text block: where most lines start, and where most end (justified lines)."""
    lines = [line for page in pages for line in page.lines]
    left, starts = collections.Counter(round(min(word.x0 for word in line), 1) for line in lines).most_common(1)[0]
    right, ends = collections.Counter(round(max(word.x1 for word in line), 1) for line in lines).most_common(1)[0]
    assert starts > 100 and ends > 100 and right - left > 300, f"no text block: lines start at {left} pt ({starts}), end at {right} pt ({ends})"
    return left, right


def past_the_margins(page: Page, left: float, right: float) -> list[tuple[Word, str]]:
    found = []
    for word in (word for line in page.lines for word in line):
        off = " (off the page)" if word.x0 < 0 or word.y0 < 0 or word.x1 > page.width or word.y1 > page.height else ""
        if word.x0 < left - MARGIN_TOLERANCE:
            found.append((word, f"{word.text!r} starts at {word.x0:.1f} pt{off}"))
        elif word.x1 > right + MARGIN_TOLERANCE or off:
            found.append((word, f"{word.text!r} ends at {word.x1:.1f} pt{off}"))
    return found


def too_small(page: Page) -> list[tuple[Word, str]]:
    words = (word for line in page.lines for word in line)
    return [(word, f"{word.text!r} {word.height:.1f} pt") for word in words if word.height < MIN_TEXT_SIZE and page.is_text(word)]


def run_into_each_other(page: Page) -> list[tuple[Word, str]]:
    """Pairs of words on one line (their boxes share half the smaller height) whose boxes overlap sideways."""
    words = sorted((word for line in page.lines for word in line if re.search(r"\w", word.text)), key=lambda word: word.x0)
    found = []
    for i, a in enumerate(words):
        for b in words[i + 1 :]:
            if b.x0 >= a.x1 - OVERPRINT:
                break
            across, down = min(a.x1, b.x1) - b.x0, min(a.y1, b.y1) - max(a.y0, b.y0)
            repeated = a.text == b.text and max(abs(a.x0 - b.x0), abs(a.y0 - b.y0), abs(a.x1 - b.x1), abs(a.y1 - b.y1)) < 0.5
            if across > OVERPRINT and down > 0 and down >= min(a.height, b.height) / 2 and not repeated and page.is_text(a) and page.is_text(b):
                found.append((a, f"{a.text!r} ({a.x0:.1f}–{a.x1:.1f} pt) into {b.text!r} ({b.x0:.1f}–{b.x1:.1f} pt) by {across:.1f} pt"))
    return found


def test_no_text_past_the_margins_and_no_overprinting():
    """Every word inside the text block and on its page, no two words on one line printed over each other, and no
    text too small to read; a failure names each page, the float (its caption) and section, the words and sizes.

    The text block is where the justified lines put it: its left edge is where most lines start, its right edge
    where most end (sphinx's 1 in margins: 72 pt and the page's width less 72 pt). A percentile of where words end
    would move with a wide table's hundreds of cells; the edge that every full, justified line shares does not.
    A word may pass either edge by MARGIN_TOLERANCE; figures' words count here, their boxes' sides being right.

    Two words run into each other when their boxes share half the smaller one's height (one line of print) and
    overlap sideways by more than OVERPRINT: a table's column running into the next, printed over it or hidden
    under its shaded cell. A line's share of the height, not any overlap: the boxes of stacked lines, subscripts
    and big operators (√, ∑) overlap by up to 55% of a word's area while their ink does not touch. Words of figures
    and math (FIGURE_FONT) and words with no letter or digit are left out, and a word repeated at its own place.

    Text is too small below MIN_TEXT_SIZE, the height of a word's box being its type size for the book's fonts
    (FreeSerif's 10 pt body gives 10.0 pt boxes). Figures and math are left out: matplotlib's Type 3 boxes give no
    size, and TeX sets second-order subscripts at 5 pt by design.
    """
    pages = pdf_layout()
    left, right = text_block(pages)
    where = placer(pages)
    rules = {
        f"past the margins ({left:.1f} to {right:.1f} pt)": lambda page: past_the_margins(page, left, right),
        f"type under {MIN_TEXT_SIZE:g} pt": too_small,
        "words run into each other": run_into_each_other,
    }
    problems: dict[str, list[str]] = collections.defaultdict(list)
    for page in pages:
        for rule, check in rules.items():
            for word, detail in check(page):
                problems[f"{where(word)}: {rule}"].append(detail)
    report = [f"{place} ({len(found)}): " + "; ".join(found[:6]) + ("; …" if len(found) > 6 else "") for place, found in problems.items()]
    assert not report, "text that does not print cleanly:\n" + "\n".join(report)
