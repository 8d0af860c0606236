"""Reading the machine-readable results that earlier chapters wrote under runs/<preset>/results/."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from helpers.core import paths


def _path(preset: str, chapter: str, name: str, runs_dir: str | None) -> Path:
    path = paths.results_dir(preset, chapter, runs_dir or None) / name
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: execute chapter {chapter} with preset {preset!r} first (make execute PRESET={preset})")
    return path


def table(preset: str, chapter: str, name: str, runs_dir: str | None = None) -> pd.DataFrame:
    """``results/<chapter>/<name>.csv`` of ``preset``."""
    return pd.read_csv(_path(preset, chapter, f"{name}.csv", runs_dir))


def record(preset: str, chapter: str, name: str, runs_dir: str | None = None) -> Any:
    """``results/<chapter>/<name>.json`` of ``preset``."""
    return json.loads(_path(preset, chapter, f"{name}.json", runs_dir).read_text())
