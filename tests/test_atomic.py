"""Atomic writes: an interrupted write leaves the previous file (or none), never a partial one."""

import json

import pandas as pd
import pytest

from helpers.core import atomic


def test_writers_round_trip(tmp_path):
    atomic.write_json(tmp_path / "a" / "x.json", {"v": 1.5, "nan": float("nan")})
    assert json.loads((tmp_path / "a" / "x.json").read_text()) == {"v": 1.5, "nan": None}
    table = pd.DataFrame({"a": [1, 2], "b": [0.5, 0.25]})
    atomic.write_csv(tmp_path / "t.csv", table)
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "t.csv"), table)


def test_interrupted_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "result.txt"
    atomic.write_text(target, "complete")
    with pytest.raises(KeyboardInterrupt):
        with atomic.atomic_path(target) as tmp:
            tmp.write_text("half-writ")
            raise KeyboardInterrupt
    assert target.read_text() == "complete"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["result.txt"]


def test_interrupted_first_write_leaves_nothing(tmp_path):
    with pytest.raises(RuntimeError):
        with atomic.atomic_path(tmp_path / "new.csv") as tmp:
            assert tmp.suffix == ".csv"
            tmp.write_text("a,b\n1,")
            raise RuntimeError("killed")
    assert list(tmp_path.iterdir()) == []
