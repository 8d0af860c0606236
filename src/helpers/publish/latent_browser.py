"""The latent browser's page: chapter 5's record (:mod:`helpers.chapters.latent_browser`, results file
``latent_browser.json``) as a static page beside the book, ``latents/index.html``.

The page is ``web/latents/`` (HTML, script, style sheet) plus ``data.js``, which holds the record as
a script so that the page works opened from a file as well as from any static host, with no request
leaving it; ``latents.json`` is the same record to download.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

from helpers.core import atomic, paths

#: The folder of the built site that holds the browser, and the results file it reads.
SITE_FOLDER = "latents"
RESULTS_FILE = "latent_browser.json"
PAGE_FILES = ("index.html", "browser.js", "browser.css")


def write_site(record: dict[str, Any], folder: str | Path, root: Path | None = None) -> Path:
    """Write the browser for ``record`` into ``folder`` (replaced whole, atomically); return its page."""
    source = (root or paths.project_root()) / "web" / SITE_FOLDER
    text = json.dumps(record, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    with atomic.atomic_folder(folder, replace=True) as staging:
        for name in PAGE_FILES:
            shutil.copy2(source / name, staging / name)
        (staging / "data.js").write_text(f"window.LATENT_BROWSER = {text};\n", encoding="utf-8")
        (staging / "latents.json").write_text(text, encoding="utf-8")
    return Path(folder) / "index.html"


def write_from_results(results: str | Path, site: str | Path) -> Path | None:
    """The browser of a run's chapter 5 results folder, into ``<site>/latents``; None (nothing
    written) when that run has no browser record."""
    path = Path(results) / RESULTS_FILE
    if not path.exists():
        return None
    return write_site(json.loads(path.read_text(encoding="utf-8")), Path(site) / SITE_FOLDER)


#: A latent as chapter 5's tables name it: ``<model> #<latent>``.
LATENT_NAME = re.compile(r"(?P<model>[\w.-]+) #(?P<latent>\d+)")


def link(name: str, page: str = f"../{SITE_FOLDER}/index.html") -> str:
    """A table cell naming a latent (``L8-d96 #123``) as a link to its card in the browser (``page``
    relative to a chapter's page); any other text unchanged. A ``Styler`` formatter."""
    match = LATENT_NAME.fullmatch(str(name))
    if not match:
        return str(name)
    return f'<a href="{page}#{match["model"]}/{match["latent"]}">{name}</a>'
