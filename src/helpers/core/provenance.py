"""What produced a chapter: preset, parameters, package versions, device and wall time.

A chapter's computation (``helpers.chapters``) saves its tables through a :class:`ChapterRun`
(atomically, under ``runs/<preset>/results/<chapter>/``), which :meth:`ChapterRun.close` ends by
writing ``provenance.json``. A notebook opens and closes it through ``helpers.publish.notebook``,
which also glues the provenance for the page.
"""

from __future__ import annotations

import datetime as dt
import platform
import subprocess
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd

from helpers.core import atomic, hardware, paths
from helpers.core.parameters import Parameters

PACKAGES = ("torch", "transformer-lens", "sae-lens", "numpy", "scipy", "pandas", "papermill", "jupyter-book")


def source_commit(root: Path | None = None) -> str:
    """The git commit of the project checkout, with ``-dirty`` when tracked files differ from it;
    ``unknown`` outside a git checkout."""
    root = root or paths.project_root()
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True).stdout.strip()
        changed = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"], cwd=root, capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return commit + ("-dirty" if changed else "")


def short_commit(commit: str) -> str:
    """A commit as people quote it: its first 12 hex digits, ``-dirty`` kept; ``unknown`` unchanged."""
    if commit == "unknown":
        return commit
    return commit[:12] + ("-dirty" if commit.endswith("-dirty") else "")


def package_versions() -> dict[str, str]:
    """Installed versions of the packages that shape the numbers, plus Python itself."""
    versions = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def portable_paths(table: pd.DataFrame, run_folder: Path) -> pd.DataFrame:
    """``table`` with every column whose values are all absolute paths below ``run_folder``
    rewritten relative to it; other columns untouched."""
    root = str(run_folder.resolve()) + "/"
    rewritten = {}
    for column in table.columns:
        values = table[column]
        if values.dtype == object or pd.api.types.is_string_dtype(values):
            texts = values.dropna()
            if len(texts) and all(isinstance(v, str) and v.startswith(root) for v in texts):
                rewritten[column] = values.map(lambda v: v.removeprefix(root) if isinstance(v, str) else v)
    return table.assign(**rewritten)


@dataclass
class ChapterRun:
    """One execution of one chapter. Nothing is written until the first ``save_*``."""

    config: Parameters  # a chapter's config: preset, chapter, device, runs_dir
    started: float = field(default_factory=time.perf_counter)
    started_at: str = field(default_factory=lambda: dt.datetime.now(dt.UTC).isoformat(timespec="seconds"))

    @property
    def results(self) -> Path:
        return paths.results_dir(self.config.preset, self.config.chapter, self.config.runs_dir or None)

    def save_table(self, name: str, table: pd.DataFrame) -> Path:
        """Write ``results/<name>.csv`` atomically and return its path. A column of paths inside this
        run's folder is written relative to it (``models/L8-d64-…``), so results can be moved."""
        return atomic.write_csv(self.results / f"{name}.csv", portable_paths(table, self.run_folder))

    @property
    def run_folder(self) -> Path:
        return paths.run_dir(self.config.preset, self.config.runs_dir or None)

    def save_json(self, name: str, data: Any) -> Path:
        """Write ``results/<name>.json`` atomically and return its path."""
        return atomic.write_json(self.results / f"{name}.json", data)

    def provenance(self) -> dict[str, Any]:
        device = hardware.resolve_device(self.config.device)
        return {
            "chapter": self.config.chapter,
            "preset": self.config.preset,
            # Folders are not parameters of the science, and would tie results to one machine.
            "parameters": {k: v for k, v in self.config.as_dict().items() if k not in ("runs_dir", "bundles_dir")},
            "device": str(device),
            "device_name": hardware.describe_device(device),
            "versions": package_versions(),
            "git_commit": source_commit(),
            "started_at": self.started_at,
            "wall_time_s": round(time.perf_counter() - self.started, 3),
        }

    def close(self) -> dict[str, Any]:
        """Write ``provenance.json`` and return it (the headless pipeline's end of a chapter)."""
        record = self.provenance()
        self.save_json("provenance", record)
        return record
