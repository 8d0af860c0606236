"""Run the book: execute every notebook of a preset with papermill, then build the HTML.

Source notebooks are never modified. Executed copies go to ``runs/<preset>/notebooks/`` (written
atomically); a copy is reused while its source notebook, its parameters and the ``helpers``
package are unchanged. The book is built by Jupyter Book from a staging folder that holds the
executed copies, with execution off and warnings as errors.

Command line (what ``make book`` and the tests call)::

    python -m helpers.runner execute --preset smoke [--runs-dir DIR] [--only CHAPTER] [--force]
    python -m helpers.runner book --preset quick
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

from helpers import atomic, paths, web_assets
from helpers.bundle import committed_bundles
from helpers.config import CONFIGS, load_preset

BOOK_FILES = ("_toc.yml", "book")
BINDERHUB = "https://mybinder.org"


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
    resolved = load_preset(preset)
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
        parameters = dict(resolved[chapter])
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
        with atomic.atomic_path(output) as tmp, inline_figures():
            try:
                papermill.execute_notebook(
                    source, tmp, parameters=parameters, cwd=root, progress_bar=False, log_output=False
                )
                _hide_injected_parameters(tmp)
            except Exception:
                shutil.copyfile(tmp, failed)
                log(f"[{preset}] {chapter}: FAILED, the executed notebook is at {failed}")
                raise
        atomic.write_text(key_file, key)
        log(f"[{preset}] {chapter}: done in {time.perf_counter() - started:.1f} s")
    return outputs


@contextlib.contextmanager
def inline_figures() -> Iterator[None]:
    """Kernels inherit this process's environment; a headless caller's MPLBACKEND=Agg would make
    every ``plt.show()`` draw nothing. The kernel gets Jupyter's inline backend, as in JupyterLab."""
    previous = os.environ.get("MPLBACKEND")
    os.environ["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("MPLBACKEND", None)
        else:
            os.environ["MPLBACKEND"] = previous


def _hide_injected_parameters(notebook: Path) -> None:
    """Fold papermill's injected-parameters cell away in the book, like the parameters cell."""
    import nbformat

    nb = nbformat.read(notebook, as_version=4)
    for cell in nb.cells:
        tags = cell.metadata.get("tags", [])
        if "injected-parameters" in tags and "hide-cell" not in tags:
            cell.metadata["tags"] = [*tags, "hide-cell"]
    nbformat.write(nb, notebook)


def stage_config(config: dict[str, Any], repository_url: str | None) -> dict[str, Any]:
    """The book's configuration for this build: the original run's setup as MyST substitutions
    for the narrative pages and, with a repository address, launch buttons."""
    from helpers.reference import substitutions

    parse = dict(config.get("parse") or {})
    parse["myst_substitutions"] = {**(parse.get("myst_substitutions") or {}), **substitutions()}
    config = {**config, "parse": parse, "launch_buttons": dict(config.get("launch_buttons") or {})}
    if repository_url:
        config["repository"] = {**(config.get("repository") or {}), "url": repository_url, "branch": "main"}
        config["launch_buttons"]["binderhub_url"] = BINDERHUB
    else:
        config["launch_buttons"].pop("binderhub_url", None)
    return config


def build(preset: str, runs_dir: str | Path | None = None, log: Callable[[str], None] = print,
          output: str | Path | None = None) -> Path:
    """Build ``<output>/_build/html`` (default: the project's) from the preset's executed notebooks;
    warnings fail the build."""
    root = paths.project_root()
    output = Path(output) if output else root
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
    shutil.copytree(executed, stage / "notebooks", ignore=shutil.ignore_patterns("*.key", "*.failed.ipynb"))
    web_assets.copy_into(stage / web_assets.STATIC_FOLDER, root, log)
    config = stage_config(yaml.safe_load((root / "_config.yml").read_text()), os.environ.get("BOOK_REPOSITORY_URL"))
    (stage / "_config.yml").write_text(yaml.safe_dump(config, sort_keys=False))
    command = [
        str(Path(sys.executable).with_name("jupyter-book")),
        "build", str(stage), "--path-output", str(output), "--builder", "html", "--all",
        "-W", "-n", "--keep-going",
    ]
    log(f"[{preset}] building the book: {' '.join(command)}")
    subprocess.run(command, check=True, cwd=root)
    html = output / "_build" / "html"
    log(f"[{preset}] book built: {html / 'index.html'}")
    return html


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m helpers.runner", description=__doc__.split("\n")[0])
    parser.add_argument("command", choices=["execute", "book"], help="execute the notebooks, or execute and build")
    parser.add_argument("--preset", default="quick", help="a preset name (a file in presets/)")
    parser.add_argument("--runs-dir", default=None, help="folder for runs/<preset>/ (default: <project>/runs)")
    parser.add_argument("--only", nargs="*", default=None, help="execute only these chapters")
    parser.add_argument("--force", action="store_true", help="re-execute even if nothing changed")
    parser.add_argument("--bundles-dir", default=None, help="results bundles shown beside this run (default: <project>/results)")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    execute(args.preset, args.runs_dir, args.only, args.force, bundles_dir=args.bundles_dir)
    if args.command == "book":
        build(args.preset, args.runs_dir)
    print(f"[{args.preset}] {args.command} finished in {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
