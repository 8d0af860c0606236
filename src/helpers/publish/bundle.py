"""Results bundles: a finished run's results, committed under ``results/<preset>/`` so the book can
show them without re-running them.

A bundle holds every CSV and JSON of ``runs/<preset>/results/`` (the chapters' tables and their
``provenance.json``) except the per-latent table ``latents.csv`` (one row per latent per comparison,
over 10 MB at the study scale) and the latent browser's record ``latent_browser.json`` (megabytes of
contexts; the browser is built for the run the book shows), which stay with the run; the preset
file as ``preset.yaml``, and ``manifest.json``: the sha256 of each
file, the git commit that ran each chapter and the one that made the bundle, package versions,
device and wall time per chapter. Weights and activations are never bundled.

Reading a bundle validates it first: a missing file, a changed hash, a file the manifest does not
list, or a manifest from another schema raises one :class:`BundleError` naming the file. A bundle is
one version of the code: every chapter's provenance names the same commit, and it holds only files
the current code's chapters write (their ``RESULT_FILES``). ``make`` bundles nothing else, and
reading a bundle that is not one version (made by hand or by older code) raises a
:class:`BundleError` naming the commits or the stale file; ``check`` lists every such problem of
every committed bundle instead of stopping at the first.

Command line::

    python -m helpers.publish.bundle make --preset study [--runs-dir DIR]   # runs/study/results → results/study
    python -m helpers.publish.bundle check                                  # validate every committed bundle and its code version
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from helpers.core import atomic, paths
from helpers.core.parameters import ParameterError, check_preset
from helpers.core.provenance import source_commit
from helpers.publish.toc import chapters_in_book_order

SCHEMA = 1
MANIFEST = "manifest.json"
PRESET_FILE = "preset.yaml"
MAX_BYTES = 20 * 2**20
BUNDLED_SUFFIXES = (".csv", ".json")
LEFT_IN_THE_RUN = ("latents.csv", "latent_browser.json")


class BundleError(ValueError):
    """A bundle that cannot be trusted; the message names the offending file."""

    def __init__(self, path: Path, problem: str) -> None:
        self.path = path
        super().__init__(f"results bundle file {path}: {problem}")


def bundles_root(root: Path | None = None) -> Path:
    """``<project>/results``: one folder per bundled preset."""
    return (root or paths.project_root()) / "results"


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@dataclass(frozen=True)
class Bundle:
    """A validated bundle; tables and records are read through it, never around it."""

    folder: Path
    manifest: dict[str, Any]

    @property
    def preset(self) -> str:
        return self.manifest["preset"]

    def path(self, chapter: str, name: str) -> Path:
        relative = f"{chapter}/{name}"
        if relative not in self.manifest["files"]:
            raise BundleError(
                self.folder / relative, f"not in the bundle of preset {self.preset!r} (re-run it and `make bundle PRESET={self.preset}`)"
            )
        return self.folder / relative

    def table(self, chapter: str, name: str) -> pd.DataFrame:
        """``<chapter>/<name>.csv`` of the bundled run."""
        return pd.read_csv(self.path(chapter, f"{name}.csv"))

    def record(self, chapter: str, name: str) -> Any:
        """``<chapter>/<name>.json`` of the bundled run."""
        return json.loads(self.path(chapter, f"{name}.json").read_text())


def read_bundle(folder: str | Path, one_version: bool = True) -> Bundle:
    """Validate ``folder`` against its manifest and return it; raise :class:`BundleError` otherwise.

    With ``one_version`` (the default) a bundle whose chapters ran at several commits, or that holds
    a file the current code does not write, is refused too (:func:`version_problems`)."""
    folder = Path(folder)
    manifest_path = folder / MANIFEST
    if not manifest_path.is_file():
        raise BundleError(manifest_path, "missing; a bundle is made with `make bundle PRESET=<name>`")
    try:
        manifest = json.loads(manifest_path.read_text())
    except json.JSONDecodeError as error:
        raise BundleError(manifest_path, f"not valid JSON ({error})") from None
    if manifest.get("schema") != SCHEMA:
        raise BundleError(manifest_path, f"schema {manifest.get('schema')!r}; this code reads schema {SCHEMA} (re-make the bundle with this version)")
    listed = manifest.get("files", {})
    for relative, entry in sorted(listed.items()):
        path = folder / relative
        if not path.is_file():
            raise BundleError(path, "listed in the manifest but missing")
        if sha256(path) != entry["sha256"]:
            raise BundleError(path, "its sha256 differs from the manifest's (the file was changed)")
    present = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()} - {MANIFEST}
    for relative in sorted(present - set(listed)):
        raise BundleError(folder / relative, "not listed in the manifest")
    problems = version_problems(manifest) if one_version else []
    if problems:
        raise BundleError(
            manifest_path,
            "not one version of the code: " + "; ".join(problems) + f" (re-run preset {manifest.get('preset')!r} at one commit and "
            f"`make bundle PRESET={manifest.get('preset')}`: the stage caches keep it cheap)",
        )
    return Bundle(folder, manifest)


def written_by_code(chapter: str) -> set[str]:
    """The files the current code's ``chapter`` writes into its results folder and a bundle holds."""
    from helpers.chapters import module

    return {*module(chapter).RESULT_FILES, "provenance.json"} - set(LEFT_IN_THE_RUN)


def version_problems(manifest: dict[str, Any]) -> list[str]:
    """What keeps a bundle from being read as one version of the code: its chapters ran at several
    commits, or it holds a file the current code does not write. Empty when it is one version."""
    problems = []
    commits = manifest.get("run_commits", {})
    if len(set(commits.values())) > 1:
        problems.append("its chapters ran at several commits (" + ", ".join(f"{c} at {sha[:7]}" for c, sha in commits.items()) + ")")
    for relative in sorted(manifest.get("files", {})):
        chapter, _, name = relative.partition("/")
        if name and chapter in commits and name not in written_by_code(chapter):
            problems.append(f"{relative} is not written by the current code's chapter {chapter} (a stale file)")
    return problems


def committed_bundles(bundles_dir: str | Path | None = None, one_version: bool = True) -> list[Bundle]:
    """Every bundle under ``bundles_dir`` (default ``<project>/results``, which may be absent),
    validated (``one_version`` as in :func:`read_bundle`), by preset name. A folder there that is not
    a valid bundle is an error, not skipped, and so is a ``bundles_dir`` that does not exist."""
    if bundles_dir and not Path(bundles_dir).is_dir():
        raise ParameterError("bundles_dir", str(bundles_dir), "an existing folder, or '' for <project>/results")
    root = Path(bundles_dir) if bundles_dir else bundles_root()
    if not root.is_dir():
        return []
    return [read_bundle(folder, one_version) for folder in sorted(p for p in root.iterdir() if p.is_dir())]


def make_bundle(preset: str, runs_dir: str | Path | None = None, bundles_dir: str | Path | None = None, chapters: list[str] | None = None) -> Bundle:
    """Copy ``runs/<preset>/results`` into ``<bundles_dir>/<preset>`` with a manifest; return it read back.

    Every chapter of the book (or of ``chapters``) must have finished (its ``provenance.json``
    exists). The new bundle is assembled beside the old one and swapped in by renames.
    """
    check_preset(preset)
    results = paths.run_dir(preset, runs_dir) / "results"
    chapters = chapters or chapters_in_book_order()
    unfinished = [c for c in chapters if not (results / c / "provenance.json").is_file()]
    if unfinished:
        raise BundleError(
            results / unfinished[0] / "provenance.json",
            f"missing: chapter {unfinished[0]} of preset {preset!r} has not finished (make execute PRESET={preset})",
        )
    commits = {c: json.loads((results / c / "provenance.json").read_text()).get("git_commit", "not recorded") for c in chapters}
    if len(set(commits.values())) > 1:
        odd = next(c for c in chapters if commits[c] != commits[chapters[0]])
        raise BundleError(
            results / odd / "provenance.json",
            f"chapter {odd} ran at commit {commits[odd][:7]}, chapter {chapters[0]} at {commits[chapters[0]][:7]}: a bundle is one version "
            f"of the code (re-run the preset at one commit: the stage caches keep it cheap)",
        )
    files = sorted(results / c / name for c in chapters for name in written_by_code(c) if (results / c / name).is_file())
    size = sum(p.stat().st_size for p in files)
    if size > MAX_BYTES:
        largest = max(files, key=lambda p: p.stat().st_size)
        raise BundleError(
            largest,
            f"the bundle would hold {size / 2**20:.1f} MiB, over the {MAX_BYTES / 2**20:.0f} MiB "
            f"limit; this file is the largest ({largest.stat().st_size / 2**20:.1f} MiB)",
        )
    provenance = {c: json.loads((results / c / "provenance.json").read_text()) for c in chapters}
    root = Path(bundles_dir) if bundles_dir else bundles_root()
    root.mkdir(parents=True, exist_ok=True)
    with atomic.atomic_folder(root / preset, replace=True) as staging:
        for path in files:
            target = staging / path.relative_to(results)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
        shutil.copyfile(paths.presets_dir() / f"{preset}.yaml", staging / PRESET_FILE)
        first = provenance[chapters[0]]
        manifest = {
            "schema": SCHEMA,
            "preset": preset,
            "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "bundled_by_commit": source_commit(),
            "run_commits": {c: p.get("git_commit", "not recorded") for c, p in provenance.items()},
            "versions": first["versions"],
            "device": first["device_name"],
            "wall_time_s": {c: p["wall_time_s"] for c, p in provenance.items()},
            "files": {
                p.relative_to(staging).as_posix(): {"sha256": sha256(p), "bytes": p.stat().st_size} for p in sorted(staging.rglob("*")) if p.is_file()
            },
        }
        atomic.write_json(staging / MANIFEST, manifest)
        read_bundle(staging)
    return read_bundle(root / preset)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m helpers.publish.bundle", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    make = commands.add_parser("make", help="bundle runs/<preset>/results into results/<preset>")
    make.add_argument("--preset", required=True)
    make.add_argument("--runs-dir", default=None, help="folder holding runs/<preset>/ (default <project>/runs)")
    check = commands.add_parser("check", help="validate every committed bundle")
    check.add_argument("--bundles-dir", default=None)
    args = parser.parse_args(argv)
    if args.command == "make":
        bundle = make_bundle(args.preset, args.runs_dir)
        total = sum(f["bytes"] for f in bundle.manifest["files"].values())
        print(f"{bundle.folder}: {len(bundle.manifest['files'])} files, {total / 2**20:.2f} MiB")
    else:
        problems = 0
        for bundle in committed_bundles(args.bundles_dir, one_version=False):
            found = version_problems(bundle.manifest)
            problems += len(found)
            print(
                f"{bundle.folder}: "
                + ("valid" if not found else "not one version of the code: " + "; ".join(found))
                + f" ({len(bundle.manifest['files'])} files)"
            )
        if problems:
            raise SystemExit(1)


if __name__ == "__main__":
    main()
