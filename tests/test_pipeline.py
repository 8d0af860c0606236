"""The headless pipeline (``python -m helpers.pipeline``): bad arguments stop before any file is
written, a job whose input is missing names the job to run first, and a language model trained
data-parallel under ``torchrun`` (two ``gloo`` processes on the CPU) follows the one-process run,
has the same cache key, and resumes from its checkpoint."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch

from helpers import pipeline

MODEL = "L2-d32"
#: Two processes average two half-batch means where one process takes one mean over the whole batch:
#: the same sum in another order, so losses agree to float32 rounding, compounded over 32 AdamW steps (measured here: 1.2e-6 nats).
TOLERANCE = 1e-5


def torchrun(runs: Path, processes: int = 2) -> Path:
    """Train MODEL of the smoke preset under torchrun; returns the folder rank 0 prints."""
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        f"--nproc_per_node={processes}",
        "-m",
        "helpers.pipeline",
        "train",
        "--preset",
        "smoke",
        "--model",
        MODEL,
        "--runs-dir",
        str(runs),
    ]
    done = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stderr[-3000:]
    return Path(done.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def one_process(tmp_path_factory) -> Path:
    return pipeline.train("smoke", MODEL, str(tmp_path_factory.mktemp("one")))


def runs_with_tokens(folder: Path, one_process: Path) -> Path:
    """An empty runs folder but for the token cache of the one-process run (tokenizing once is enough)."""
    shutil.copytree(one_process.parents[2] / "cache", folder / "cache")
    return folder


@pytest.fixture(scope="module")
def two_processes(tmp_path_factory, one_process) -> Path:
    return torchrun(runs_with_tokens(tmp_path_factory.mktemp("two"), one_process))


def history(folder: Path) -> pd.DataFrame:
    return pd.read_csv(folder / "history.csv")


def test_two_processes_follow_one_with_the_same_cache_key(one_process, two_processes):
    assert two_processes.name == one_process.name
    one, two = history(one_process), history(two_processes)
    assert len(one) == len(two) == 32 and (one.step == two.step).all() and (one.tokens == two.tokens).all()
    assert (one.train_loss - two.train_loss).abs().max() < TOLERANCE
    assert (one.val_loss - two.val_loss).abs().max() < TOLERANCE and one.val_loss.notna().sum() == 4
    assert pd.read_json(two_processes / "summary.json", typ="series")["processes"] == 2
    first, second = (torch.load(f / "model.pt", weights_only=True) for f in (one_process, two_processes))
    assert max((first[k] - second[k]).abs().max().item() for k in first) < 1e-3


def test_micro_batches_follow_the_whole_batch(one_process, tmp_path):
    folder = pipeline.train("smoke", MODEL, str(runs_with_tokens(tmp_path, one_process)), micro_batch=3)  # shares of 3, 3 and 2 sequences
    assert folder.name == one_process.name
    assert (history(folder).train_loss - history(one_process).train_loss).abs().max() < TOLERANCE


def test_bad_arguments_stop_before_any_file(tmp_path, monkeypatch, capsys):
    for argv, named in (
        (["train", "--model", "L9-d3"], "'model' = 'L9-d3'"),
        (["train", "--model", MODEL, "--micro-batch", "-1"], "'micro_batch' = -1"),
        (["sae", "--model", MODEL, "--hook", "blocks.9.hook_resid_pre"], "'hook' = 'blocks.9.hook_resid_pre'"),
        (["sae", "--model", MODEL, "--hook", "blocks.1.hook_mlp_out", "--replicate", "1"], "'replicate' = 1"),
        (["run", "--chapters", "03,11"], "'chapters' = '11'"),
    ):
        with pytest.raises(SystemExit):
            pipeline.main([*argv, "--preset", "smoke", "--runs-dir", str(tmp_path)])
        assert named in capsys.readouterr().err
    monkeypatch.setenv("WORLD_SIZE", "3")  # as torchrun --nproc_per_node=3 would: 8 sequences do not split in 3
    monkeypatch.setenv("RANK", "0")
    with pytest.raises(SystemExit):
        pipeline.main(["train", "--model", MODEL, "--preset", "smoke", "--runs-dir", str(tmp_path)])
    error = capsys.readouterr().err
    assert "'nproc_per_node' = 3" in error and "batch_size (8)" in error
    assert not any(tmp_path.iterdir())


def test_an_sae_job_without_its_model_names_the_job_to_run_first(tmp_path):
    with pytest.raises(pipeline.MissingInputError, match=f"python -m helpers.pipeline train --preset smoke --model {MODEL}"):
        pipeline.train_one_sae("smoke", MODEL, "blocks.1.hook_resid_pre", runs_dir=str(tmp_path))
    assert not (tmp_path / "smoke" / "saes").exists()


def test_a_chapter_without_its_inputs_names_the_chapter_to_run_first(tmp_path, capsys):
    with pytest.raises(SystemExit):
        pipeline.main(["run", "--chapters", "10", "--preset", "smoke", "--runs-dir", str(tmp_path)])
    assert "execute chapter 01_scaling_laws" in capsys.readouterr().err
    assert not (tmp_path / "smoke" / "results").exists()
