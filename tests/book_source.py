"""What the chapters' sources say about the book's layout, read independently of the build: the
numbered figures and tables each chapter pastes, for the tests of the HTML and the PDF."""

from __future__ import annotations

import re

import nbformat

from helpers.core import paths

#: A pasted figure or table: its glue key, its label and its caption.
PASTED = re.compile(r"```\{glue:figure\} (\w+)\n:name: ([\w-]+)\n\n(.*?)\n```", re.DOTALL)


def numbered(chapter: str) -> list[tuple[str, str]]:
    """(label, "Figure" or "Table") of every numbered output of a chapter, in reading order: the
    pasted ones (a ``tab-`` label is a table) and the cells captioned in their metadata (the explorers)."""
    found = []
    for cell in nbformat.read(paths.project_root() / "notebooks" / f"{chapter}.ipynb", as_version=4).cells:
        if cell.cell_type == "markdown":
            found += [(label, "Table" if label.startswith("tab-") else "Figure") for _, label, _ in PASTED.findall(cell.source)]
        elif name := cell.metadata.get("mystnb", {}).get("figure", {}).get("name"):
            found.append((name, "Figure"))
    return found
