"""The book's table of contents (``_toc.yml``): which chapters the book holds, in its order."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from helpers.core import paths


def chapters_in_book_order(root: Path | None = None) -> list[str]:
    """Notebook names (``notebooks/<name>.ipynb``) in the order ``_toc.yml`` lists them."""
    root = root or paths.project_root()
    toc = yaml.safe_load((root / "_toc.yml").read_text())
    files: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("file"), str):
                files.append(node["file"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(toc)
    return [Path(f).stem for f in files if f.startswith("notebooks/")]


def chapter_numbers(root: Path | None = None) -> dict[str, int]:
    """Each chapter's label (the ``(ch-…)=`` target that opens its MyST twin) → its number in book order."""
    root = root or paths.project_root()
    numbers = {}
    for number, chapter in enumerate(chapters_in_book_order(root), start=1):
        label = re.search(r"^\((ch-[\w-]+)\)=$", (root / "notebooks" / f"{chapter}.md").read_text(), re.M)
        if label:
            numbers[label.group(1)] = number
    return numbers
