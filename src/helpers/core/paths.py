"""Where things live: the project root, the preset files and each preset's run folder.

Layout of a run folder (all generated, ignored by git)::

    runs/<preset>/notebooks/<chapter>.ipynb    executed copies of the source notebooks
    runs/<preset>/results/<chapter>/*.csv|json machine-readable tables and figure data
"""

from __future__ import annotations

from pathlib import Path

MARKERS = ("_toc.yml", "presets")


class ProjectNotFoundError(RuntimeError):
    """Raised when no folder holding ``_toc.yml`` and ``presets/`` encloses the working directory."""


def project_root(start: str | Path | None = None) -> Path:
    """The nearest folder at or above ``start`` (default: the working directory) that holds the book.

    Falls back to the source checkout this package was installed from (an editable install), so a
    notebook opened from ``notebooks/`` or a test run from anywhere finds the same project.
    """
    candidates = [Path(start or Path.cwd()).resolve()]
    candidates += list(candidates[0].parents)
    candidates += [Path(__file__).resolve().parents[3]]
    for folder in candidates:
        if all((folder / marker).exists() for marker in MARKERS):
            return folder
    raise ProjectNotFoundError(f"no project folder (one holding {' and '.join(MARKERS)}) at or above {candidates[0]}")


def presets_dir(root: Path | None = None) -> Path:
    """The folder of preset YAML files."""
    return (root or project_root()) / "presets"


def available_presets(root: Path | None = None) -> list[str]:
    """Names of the presets, one per ``presets/<name>.yaml``, sorted."""
    return sorted(path.stem for path in presets_dir(root).glob("*.yaml"))


def run_dir(preset: str, runs_root: str | Path | None = None) -> Path:
    """``runs/<preset>``; ``runs_root`` defaults to ``<project root>/runs``."""
    base = Path(runs_root) if runs_root else project_root() / "runs"
    return base / preset


def results_dir(preset: str, chapter: str, runs_root: str | Path | None = None) -> Path:
    """``runs/<preset>/results/<chapter>``: where a chapter's tables and figure data go."""
    return run_dir(preset, runs_root) / "results" / chapter


def cache_dir(runs_root: str | Path | None = None) -> Path:
    """``runs/cache``: stages shared by every preset (token shards)."""
    base = Path(runs_root) if runs_root else project_root() / "runs"
    return base / "cache"


def models_dir(preset: str, runs_root: str | Path | None = None) -> Path:
    """``runs/<preset>/models``: one folder per trained language model."""
    return run_dir(preset, runs_root) / "models"
