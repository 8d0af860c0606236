"""Run the book: execute every notebook of a preset with papermill, then build the HTML and the PDF.

Source notebooks are never modified. Executed copies go to ``runs/<preset>/notebooks/`` (written
atomically); a copy is reused while its source notebook, its parameters and the ``helpers``
package are unchanged. The book is built by Jupyter Book from a staging folder that holds the
executed copies, with execution off and warnings as errors: the HTML, and the PDF through Jupyter
Book's LaTeX builder (XeLaTeX), from the same executed copies.

Command line (what ``make book``, ``make pdf`` and the tests call)::

    python -m helpers.runner execute --preset smoke [--runs-dir DIR] [--only CHAPTER] [--force]
    python -m helpers.runner book --preset quick
    python -m helpers.runner pdf --preset quick     # the PDF, then the HTML linking it
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import yaml

from helpers.chapters.configs import CONFIGS, config_for, load_preset
from helpers.core import atomic, paths
from helpers.publish import findings, ladder, latent_browser, web_assets
from helpers.publish import notebook as notebook_glue
from helpers.publish.bundle import committed_bundles
from helpers.publish.toc import chapters_in_book_order

BOOK_FILES = ("_toc.yml", "book")
BINDERHUB = "https://mybinder.org"
#: The PDF's name, in _build/latex/ and beside the HTML pages.
BOOK_PDF = "book.pdf"
#: The findings table the introduction includes, written into the staged book from the results.
FINDINGS_PAGE = Path("book") / "findings.md"
#: What the PDF build needs, each with the Debian package that provides it: programs on PATH, then
#: LaTeX files found by kpsewhich.
PDF_PROGRAMS = {"xelatex": "texlive-xetex", "latexmk": "latexmk", "kpsewhich": "texlive-base"}
PDF_FILES = {
    "fncychap.sty": "texlive-latex-extra",
    "tabulary.sty": "texlive-latex-extra",
    "fontspec.sty": "texlive-latex-recommended",
    "FreeSerif.otf": "fonts-freefont-otf",
    "lmodern.sty": "lmodern",
}


def bundles_fingerprint(bundles_dir: str | Path | None = None) -> str:
    """A hash of every committed bundle's manifest (which holds its files' hashes). Each bundle is
    validated first, so a damaged one stops the run even where every chapter is cached."""
    digest = hashlib.sha256()
    for bundle in committed_bundles(bundles_dir):
        digest.update(bundle.folder.name.encode() + b"\0" + json.dumps(bundle.manifest, sort_keys=True).encode())
    return digest.hexdigest()


def cache_key(source: Path, parameters: dict[str, Any], bundles: str = "") -> str:
    """sha256 of the source notebook, its parameters and every file of the ``helpers`` package."""
    digest = hashlib.sha256(source.read_bytes())
    digest.update(json.dumps(parameters, sort_keys=True).encode() + bundles.encode())
    package = Path(__file__).parent
    for path in sorted(package.rglob("*")):
        if path.is_file() and path.suffix in {".py", ".yaml"}:
            digest.update(str(path.relative_to(package)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def execute(
    preset: str,
    runs_dir: str | Path | None = None,
    only: list[str] | None = None,
    force: bool = False,
    log: Callable[[str], None] = print,
    bundles_dir: str | Path | None = None,
) -> list[Path]:
    """Execute the preset's notebooks in book order; return the executed copies' paths.

    The whole preset is validated before the first notebook starts. Chapters that show the scale
    ladder read the results bundles in ``bundles_dir`` (default ``<project>/results``); their
    manifests are part of those chapters' cache keys, so a new or changed bundle re-executes them.
    """
    import papermill

    root = paths.project_root()
    load_preset(preset)  # the whole preset, checked before any notebook starts
    chapters = chapters_in_book_order(root)
    unknown = sorted(set(only or []) - set(chapters))
    if unknown:
        raise ValueError(f"--only: {', '.join(unknown)} not in the book; allowed: {', '.join(chapters)}")
    bundles = bundles_fingerprint(bundles_dir)  # validates every bundle before any notebook starts
    out_dir = paths.run_dir(preset, runs_dir) / "notebooks"
    outputs = []
    for chapter in chapters:
        output = out_dir / f"{chapter}.ipynb"
        outputs.append(output)
        if only and chapter not in only:
            continue
        source = root / "notebooks" / f"{chapter}.ipynb"
        # Every parameter, not only the preset's: a preset lists what departs from the defaults, and the
        # notebook's parameters cell holds the quick book's values.
        parameters = config_for(preset, chapter).as_dict()
        if runs_dir:
            parameters["runs_dir"] = str(Path(runs_dir).resolve())
        shows_ladder = any(f.name == "bundles_dir" for f in dataclasses.fields(CONFIGS[chapter]))
        if shows_ladder and bundles_dir:
            parameters["bundles_dir"] = str(Path(bundles_dir).resolve())
        key = cache_key(source, parameters, bundles if shows_ladder else "")
        key_file = output.with_suffix(".key")
        if not force and output.exists() and key_file.exists() and key_file.read_text() == key:
            log(f"[{preset}] {chapter}: unchanged, reusing {output}")
            continue
        log(f"[{preset}] {chapter}: executing")
        started = time.perf_counter()
        failed = output.with_suffix(".failed.ipynb")
        failed.unlink(missing_ok=True)
        with atomic.atomic_path(output) as tmp, kernel_environment():
            try:
                papermill.execute_notebook(source, tmp, parameters=parameters, cwd=root, progress_bar=False, log_output=False)
                _hide_injected_parameters(tmp)
            except Exception:
                shutil.copyfile(tmp, failed)
                log(f"[{preset}] {chapter}: FAILED, the executed notebook is at {failed}")
                raise
        atomic.write_text(key_file, key)
        log(f"[{preset}] {chapter}: done in {time.perf_counter() - started:.1f} s")
    return outputs


#: The kernel's environment while papermill executes a chapter: Jupyter's inline backend, as in
#: JupyterLab (a headless caller's MPLBACKEND=Agg would make every ``plt.show()`` draw nothing).
#: Progress bars are left to the kernel and taken out of the published pages (:func:`_publishable`):
#: tqdm's notebook bars ignore TQDM_DISABLE.
KERNEL_ENVIRONMENT = {"MPLBACKEND": "module://matplotlib_inline.backend_inline"}


@contextlib.contextmanager
def kernel_environment() -> Iterator[None]:
    """Kernels inherit this process's environment: set :data:`KERNEL_ENVIRONMENT` while they run."""
    previous = {name: os.environ.get(name) for name in KERNEL_ENVIRONMENT}
    os.environ.update(KERNEL_ENVIRONMENT)
    try:
        yield
    finally:
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _hide_injected_parameters(notebook: Path) -> None:
    """Fold papermill's injected-parameters cell away in the book, like the parameters cell."""
    import nbformat

    nb = nbformat.read(notebook, as_version=4)
    for cell in nb.cells:
        tags = cell.metadata.get("tags", [])
        if "injected-parameters" in tags and "hide-cell" not in tags:
            cell.metadata["tags"] = [*tags, "hide-cell"]
    nbformat.write(nb, notebook)


#: Where a notebook keeps its widgets' saved state.
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def _referenced(state: dict[str, Any], roots: set[str]) -> set[str]:
    """Every widget model reachable from ``roots`` through the ``IPY_MODEL_<id>`` references in ``state``."""
    seen, todo = set(), list(roots)
    while todo:
        model = todo.pop()
        if model in seen or model not in state:
            continue
        seen.add(model)
        todo += [ref.removeprefix("IPY_MODEL_") for ref in _strings(state[model].get("state", {})) if ref.startswith("IPY_MODEL_")]
    return seen


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _view_models(outputs: list) -> list[str | None]:
    """The widget model each output displays (None for an output that is not a widget)."""
    return [o.get("data", {}).get(WIDGET_VIEW, {}).get("model_id") for o in outputs]


def _is_progress_bar(state: dict[str, Any], model: str) -> bool:
    """A tqdm bar in a kernel: an HBox holding a FloatProgress."""
    box = state.get(model, {})
    children = [c.removeprefix("IPY_MODEL_") for c in box.get("state", {}).get("children", [])]
    return box.get("model_name") == "HBoxModel" and any(state.get(c, {}).get("model_name") == "FloatProgressModel" for c in children)


def _publishable(notebook: Path) -> None:
    """A staged chapter as readers meet it: without papermill's injected-parameters cell (the executed
    notebook in ``runs/`` keeps it; the page's provenance lists the parameters that differ from the
    defaults) and without progress bars, their outputs and their saved widget state (a library's bars
    in the kernel: the terminal is where progress belongs)."""
    import nbformat

    nb = nbformat.read(notebook, as_version=4)
    nb.cells = [cell for cell in nb.cells if "injected-parameters" not in cell.metadata.get("tags", [])]
    state = nb.metadata.get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = [o for o, model in zip(cell.outputs, _view_models(cell.outputs)) if not (model and _is_progress_bar(state, model))]
    if state:
        kept = {m for cell in nb.cells if cell.cell_type == "code" for m in _view_models(cell.outputs) if m}
        bars = {m for m in state if _is_progress_bar(state, m)}
        for model in _referenced(state, bars) - _referenced(state, kept):
            del state[model]
    nbformat.write(nb, notebook)


def citation() -> dict[str, str]:
    """What the introduction's citation block quotes: the commit the book was built from and the date."""
    from helpers.core.provenance import short_commit, source_commit

    return {"book_commit": short_commit(source_commit()), "build_date": time.strftime("%Y-%m-%d", time.gmtime())}


def stage_config(config: dict[str, Any], repository_url: str | None, pdf: str | None = None) -> dict[str, Any]:
    """The book's configuration for this build: the original run's setup as MyST substitutions
    for the narrative pages, with a repository address launch buttons, and with ``pdf`` (the PDF's
    address relative to the site) a download entry for it on every page."""
    from helpers.core.reference import substitutions

    parse = dict(config.get("parse") or {})
    parse["myst_substitutions"] = {**(parse.get("myst_substitutions") or {}), **substitutions(), **citation()}
    config = {**config, "parse": parse, "launch_buttons": dict(config.get("launch_buttons") or {})}
    if repository_url:
        config["repository"] = {**(config.get("repository") or {}), "url": repository_url, "branch": "main"}
        config["launch_buttons"]["binderhub_url"] = BINDERHUB
    else:
        config["launch_buttons"].pop("binderhub_url", None)
    if pdf:
        sphinx = dict(config.get("sphinx") or {})
        sphinx["config"] = {**(sphinx.get("config") or {}), "book_pdf": pdf}
        config["sphinx"] = sphinx
    return config


def missing_pdf_tools() -> list[str]:
    """'<program or file> (Debian package <name>)' for everything the PDF build lacks."""
    missing = [f"{program} (Debian package {package})" for program, package in PDF_PROGRAMS.items() if not shutil.which(program)]
    if not shutil.which("kpsewhich"):
        return missing
    for name, package in PDF_FILES.items():
        found = subprocess.run(["kpsewhich", name], capture_output=True, text=True).stdout.strip()
        if not found and not (name.endswith(".otf") and _font_installed(name)):
            missing.append(f"{name} (Debian package {package})")
    return missing


def _font_installed(file_name: str) -> bool:
    listing = subprocess.run(["fc-list", ":", "file"], capture_output=True, text=True).stdout if shutil.which("fc-list") else ""
    return file_name in listing


def stage_book(preset: str, runs_dir: str | Path | None, output: Path, log: Callable[[str], None], pdf: str | None = None) -> Path:
    """The staging folder ``<output>/_build/stage``: the book's pages and the preset's executed
    notebooks, with this build's configuration (``pdf``: the PDF's address relative to the site)."""
    root = paths.project_root()
    executed = paths.run_dir(preset, runs_dir) / "notebooks"
    missing = [c for c in chapters_in_book_order(root) if not (executed / f"{c}.ipynb").exists()]
    if missing:
        raise FileNotFoundError(f"not executed yet for preset {preset!r}: {', '.join(missing)} (run `execute` first)")
    stage = output / "_build" / "stage"
    shutil.rmtree(stage, ignore_errors=True)
    stage.mkdir(parents=True)
    for name in BOOK_FILES:
        source = root / name
        if source.is_dir():
            shutil.copytree(source, stage / name)
        else:
            shutil.copy2(source, stage / name)
    # left out: cache keys, failed runs, and the hidden temporary file of an execution that was interrupted
    shutil.copytree(executed, stage / "notebooks", ignore=shutil.ignore_patterns("*.key", "*.failed.ipynb", ".*"))
    for notebook in (stage / "notebooks").glob("*.ipynb"):
        _publishable(notebook)
    # every chapter's results files, which its provenance section offers for download
    for chapter in chapters_in_book_order(root):
        target = stage / "notebooks" / notebook_glue.RESULTS_FOLDER / chapter
        shutil.copytree(paths.results_dir(preset, chapter, runs_dir), target, ignore=shutil.ignore_patterns(".*"))
    # every committed bundle, which the chapters' across-scales sections offer for download
    for bundle in committed_bundles():
        shutil.copytree(bundle.folder, stage / "notebooks" / ladder.BUNDLES_FOLDER / bundle.preset, ignore=shutil.ignore_patterns(".*"))
    web_assets.copy_into(stage / web_assets.STATIC_FOLDER, root, log)
    discussion = config_for(preset, "10_discussion", runs_dir=str(runs_dir or ""))
    atomic.write_text(stage / FINDINGS_PAGE, findings.book_page(ladder.rungs(discussion)))
    config = stage_config(yaml.safe_load((root / "_config.yml").read_text()), os.environ.get("BOOK_REPOSITORY_URL"), pdf)
    (stage / "_config.yml").write_text(yaml.safe_dump(config, sort_keys=False))
    return stage


def _jupyter_book(stage: Path, output: Path, builder: str, preset: str, log: Callable[[str], None]) -> None:
    command = [
        str(Path(sys.executable).with_name("jupyter-book")),
        "build",
        str(stage),
        "--path-output",
        str(output),
        "--builder",
        builder,
        "--all",
        "-W",
        "-n",
        "--keep-going",
    ]
    log(f"[{preset}] building the book ({builder}): {' '.join(command)}")
    subprocess.run(command, check=True, cwd=paths.project_root())


def build(preset: str, runs_dir: str | Path | None = None, log: Callable[[str], None] = print, output: str | Path | None = None) -> Path:
    """Build ``<output>/_build/html`` (default: the project's) from the preset's executed notebooks;
    warnings fail the build. A PDF already built from them (:func:`build_pdf`) is linked from every
    page and copied beside them."""
    output = Path(output) if output else paths.project_root()
    pdf = output / "_build" / "latex" / BOOK_PDF
    linked = pdf.exists() and pdf.stat().st_mtime >= _executed_at(preset, runs_dir)
    stage = stage_book(preset, runs_dir, output, log, BOOK_PDF if linked else None)
    _jupyter_book(stage, output, "html", preset, log)
    html = output / "_build" / "html"
    latent_browser.write_from_results(paths.results_dir(preset, "05_universality", runs_dir), html)
    if linked:
        shutil.copy2(pdf, html / BOOK_PDF)
    log(f"[{preset}] book built: {html / 'index.html'}" + (f" (with {BOOK_PDF})" if linked else ""))
    return html


def _executed_at(preset: str, runs_dir: str | Path | None) -> float:
    """When the newest executed notebook of the preset was written (a PDF older than it is stale)."""
    executed = paths.run_dir(preset, runs_dir) / "notebooks"
    return max((p.stat().st_mtime for p in executed.glob("*.ipynb")), default=0.0)


def build_pdf(preset: str, runs_dir: str | Path | None = None, log: Callable[[str], None] = print, output: str | Path | None = None) -> Path:
    """Build ``<output>/_build/latex/book.pdf`` from the preset's executed notebooks with Jupyter
    Book's LaTeX builder; Sphinx warnings and LaTeX errors fail it. What is missing to build it is
    named (with its Debian package) before anything is staged."""
    missing = missing_pdf_tools()
    if missing:
        raise RuntimeError(
            "the PDF needs "
            + ", ".join(missing)
            + "; on Debian: apt-get install "
            + " ".join(sorted({m.split("Debian package ")[1].rstrip(")") for m in missing}))
        )
    output = Path(output) if output else paths.project_root()
    stage = stage_book(preset, runs_dir, output, log)
    pdf = output / "_build" / "latex" / BOOK_PDF
    pdf.unlink(missing_ok=True)
    _jupyter_book(stage, output, "pdflatex", preset, log)
    if not pdf.exists():
        raise RuntimeError(f"the LaTeX build finished without {pdf}; see {pdf.with_suffix('.log')}")
    log(f"[{preset}] PDF built: {pdf}")
    return pdf


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m helpers.runner", description=__doc__.split("\n")[0])
    parser.add_argument(
        "command",
        choices=["execute", "book", "pdf"],
        help="execute the notebooks; or execute and build the HTML; or execute, build the PDF and the HTML linking it",
    )
    parser.add_argument("--preset", default="quick", help="a preset name (a file in presets/)")
    parser.add_argument("--runs-dir", default=None, help="folder for runs/<preset>/ (default: <project>/runs)")
    parser.add_argument("--only", nargs="*", default=None, help="execute only these chapters")
    parser.add_argument("--force", action="store_true", help="re-execute even if nothing changed")
    parser.add_argument("--bundles-dir", default=None, help="results bundles shown beside this run (default: <project>/results)")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    if args.command == "pdf" and (missing := missing_pdf_tools()):  # before any notebook runs
        parser.error("the PDF needs " + ", ".join(missing))
    execute(args.preset, args.runs_dir, args.only, args.force, bundles_dir=args.bundles_dir)
    if args.command == "pdf":
        build_pdf(args.preset, args.runs_dir)
    if args.command in ("book", "pdf"):
        build(args.preset, args.runs_dir)
    print(f"[{args.preset}] {args.command} finished in {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
