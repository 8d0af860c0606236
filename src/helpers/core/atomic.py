"""Atomic writes: a reader (or a re-run) never sees a half-written artifact.

Each writer produces the file under a temporary name in the destination folder and renames it
into place with :func:`os.replace`, which is atomic on POSIX file systems; a folder (tokens, an SAE,
activations, a bundle) is staged whole and renamed the same way (:func:`atomic_folder`).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd


@contextlib.contextmanager
def atomic_path(destination: str | Path) -> Iterator[Path]:
    """Yield a temporary path next to ``destination``; rename it there only if the block succeeds.

    The temporary name keeps the destination's suffix, so tools that look at extensions still work.
    """
    destination = Path(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{destination.stem}.", suffix=f".tmp{destination.suffix}", dir=destination.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        os.replace(tmp, destination)
    finally:
        tmp.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_folder(destination: str | Path, replace: bool = False) -> Iterator[Path]:
    """Yield an empty staging folder beside ``destination`` (hidden: ``.<name>.<random>``); when the
    block succeeds, rename it to ``destination``. An existing ``destination`` is kept
    (``replace=False``: another process finished the same folder first) or replaced (moved aside,
    then removed). The staging folder never survives, whether the block succeeds or not."""
    destination = Path(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{destination.name}.", dir=destination.parent))
    try:
        yield staging
        if not destination.exists():
            os.replace(staging, destination)
        elif replace:
            retired = destination.with_name(f".{destination.name}.old")
            shutil.rmtree(retired, ignore_errors=True)
            os.replace(destination, retired)
            os.replace(staging, destination)
            shutil.rmtree(retired, ignore_errors=True)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def write_text(destination: str | Path, text: str) -> Path:
    """Write ``text`` to ``destination`` atomically."""
    with atomic_path(destination) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(destination)


def write_json(destination: str | Path, data: Any) -> Path:
    """Write ``data`` as indented JSON atomically (NaN is written as null)."""
    return write_text(destination, json.dumps(_json_safe(data), indent=2, sort_keys=True) + "\n")


def write_csv(destination: str | Path, table: pd.DataFrame) -> Path:
    """Write a table as CSV atomically, without the pandas index."""
    with atomic_path(destination) as tmp:
        table.to_csv(tmp, index=False)
    return Path(destination)


def _json_safe(value: Any) -> Any:
    """Convert numpy scalars and non-finite floats so that the JSON is strict."""
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if hasattr(value, "item") and callable(value.item) and getattr(value, "ndim", 1) == 0:
        value = value.item()
    if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
        return None
    return value
