"""Shared fixtures. Tests run from any folder; helpers finds the project through its install."""

from __future__ import annotations

import os

os.environ.setdefault("MPLBACKEND", "Agg")
