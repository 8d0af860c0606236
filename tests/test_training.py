"""Training: the learning-rate rules, conversion to HookedTransformer, and resume after a kill."""

import math
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pandas as pd
import psutil
import pytest
import torch

from helpers.lm.corpus import load_corpus
from helpers.lm.family import ModelShape, to_hooked
from helpers.lm.tokens import prepare_tokens
from helpers.lm.training import TrainSettings, kaplan_learning_rate, train_model

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def tokens(tmp_path_factory):
    folder = tmp_path_factory.mktemp("corpus")
    for i in range(40):
        (folder / f"m{i}.txt").write_text(f"def f_{i}(a, b):\n    return a * {i} + b\n\n" * 30)
    return prepare_tokens(load_corpus(f"text:{folder}"), 300, 0.2, tmp_path_factory.mktemp("cache"))


@pytest.mark.parametrize("d_model,lr", [(128, 1.25e-3), (256, 1.06e-3), (512, 8.6e-4), (768, 7.5e-4)])
def test_kaplan_learning_rate_reproduces_the_original_runs(d_model, lr):
    assert kaplan_learning_rate(12 * 8 * d_model**2) == pytest.approx(lr, rel=0.01)


def test_schedule_warms_up_then_decays_to_zero():
    settings = TrainSettings(steps=110, batch_size=1, n_ctx=1, warmup_steps=10)
    assert settings.lr_at(0, 1.0) == pytest.approx(0.1)
    assert settings.lr_at(9, 1.0) == pytest.approx(1.0)
    assert settings.lr_at(60, 1.0) == pytest.approx(0.5)  # half-way through the cosine
    assert settings.lr_at(110, 1.0) == pytest.approx(0.0, abs=1e-12)
    assert TrainSettings(steps=1, batch_size=1, n_ctx=1, learning_rate=3e-4).learning_rate_for(ModelShape(8, 64)) == 3e-4


def test_training_lowers_the_loss_and_converts_exactly(tokens, tmp_path):
    settings = TrainSettings(steps=60, batch_size=8, n_ctx=32, warmup_steps=5, eval_interval=20, eval_windows=8)
    result = train_model("m", ModelShape(8, 64), tokens, settings, tmp_path, CPU, progress=False)
    val = result.history["val_loss"].dropna()
    assert val.iloc[-1] < val.iloc[0] < math.log(300) + 0.5
    hooked = to_hooked(result.model, tokens.tokenizer)
    assert {"blocks.5.hook_mlp_out", "blocks.6.hook_resid_pre"} <= set(hooked.hook_dict)
    x = torch.from_numpy(tokens.val[:64].astype(np.int64)).view(2, 32)
    with torch.no_grad():
        assert (hooked(x) - result.model(x)).abs().max().item() <= 1e-4
    # the cached model is loaded, not retrained
    again = train_model("m", ModelShape(8, 64), tokens, settings, tmp_path, CPU, progress=False)
    assert again.summary == result.summary


RUNNER = textwrap.dedent(
    """
    import sys, torch
    from pathlib import Path
    from helpers.lm.family import ModelShape
    from helpers.lm.tokens import load_tokens
    from helpers.lm.training import TrainSettings, train_model
    settings = TrainSettings(steps=120, batch_size=8, n_ctx=32, warmup_steps=10, eval_interval=40,
                             eval_windows=8, checkpoint_interval=20)
    train_model("m", ModelShape(4, 64), load_tokens(Path(sys.argv[1])), settings, sys.argv[2],
                torch.device("cpu"), progress=False)
    """
)


DDP_RUNNER = textwrap.dedent(
    """
    import sys, torch
    from pathlib import Path
    from helpers.lm import distributed
    from helpers.lm.family import ModelShape
    from helpers.lm.tokens import load_tokens
    from helpers.lm.training import TrainSettings, train_model
    settings = TrainSettings(steps=120, batch_size=8, n_ctx=32, warmup_steps=10, eval_interval=20,
                             eval_windows=8, checkpoint_interval=20)
    world = distributed.from_environment()
    device = distributed.start(world, torch.device("cpu"))
    train_model("m", ModelShape(4, 64), load_tokens(Path(sys.argv[1])), settings, sys.argv[2], device,
                progress=False, world=world)
    distributed.stop(world)
    """
)


@pytest.fixture(scope="module")
def straight(tokens, tmp_path_factory):
    """RUNNER's model trained without interruption, in one process."""
    settings = TrainSettings(steps=120, batch_size=8, n_ctx=32, warmup_steps=10, eval_interval=40, eval_windows=8, checkpoint_interval=20)
    return train_model("m", ModelShape(4, 64), tokens, settings, tmp_path_factory.mktemp("straight"), CPU, progress=False)


def kill_after_first_checkpoint(command: list[str], folder) -> None:
    """Start ``command`` and kill it, with every process it started (torchrun's workers run in sessions
    of their own), once a checkpoint exists."""
    process = subprocess.Popen(command)
    deadline = time.time() + 120
    while not list(folder.glob("*/checkpoint.pt")) and process.poll() is None and time.time() < deadline:
        time.sleep(0.005)
    for member in [*psutil.Process(process.pid).children(recursive=True), psutil.Process(process.pid)]:
        member.send_signal(signal.SIGKILL)
    process.wait()
    (model_folder,) = folder.iterdir()
    assert (model_folder / "checkpoint.pt").exists() and not (model_folder / "summary.json").exists()


def test_a_killed_run_resumes_to_the_same_numbers(tokens, straight, tmp_path):
    reference, settings, shape = straight, TrainSettings(**straight.summary["settings"]), ModelShape(**straight.summary["shape"])
    folder = tmp_path / "killed"
    kill_after_first_checkpoint([sys.executable, "-c", RUNNER, str(tokens.folder), str(folder)], folder)
    (model_folder,) = folder.iterdir()

    resumed = train_model("m", shape, tokens, settings, folder, CPU, progress=False)
    assert resumed.history.step.tolist() == list(range(1, 121))
    assert np.array_equal(resumed.history.train_loss, reference.history.train_loss)
    assert resumed.summary["final_val_loss"] == reference.summary["final_val_loss"]
    for (name, a), (_, b) in zip(resumed.model.state_dict().items(), reference.model.state_dict().items()):
        assert torch.equal(a, b), name
    assert not (model_folder / "checkpoint.pt").exists()


def test_a_data_parallel_run_killed_after_its_first_checkpoint_resumes(tokens, tmp_path):
    """Two gloo processes under torchrun, killed once the first checkpoint exists, then started again:
    the run keeps the checkpoint's history (marked here, so a restart from scratch would show) and
    ends exactly where an uninterrupted two-process run ends; only rank 0 wrote files."""
    script = tmp_path / "train_ddp.py"
    script.write_text(DDP_RUNNER)

    def command(folder):
        return [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", str(script), str(tokens.folder), str(folder)]

    subprocess.run(command(tmp_path / "straight"), check=True, capture_output=True)
    (straight,) = (tmp_path / "straight").iterdir()
    kill_after_first_checkpoint(command(tmp_path / "ddp"), tmp_path / "ddp")
    (model_folder,) = (tmp_path / "ddp").iterdir()
    assert model_folder.name == straight.name
    state = torch.load(model_folder / "checkpoint.pt", weights_only=False)
    state["history"][0]["lr"] = -1.0
    torch.save(state, model_folder / "checkpoint.pt")

    subprocess.run(command(tmp_path / "ddp"), check=True, capture_output=True)
    history, reference = pd.read_csv(model_folder / "history.csv"), pd.read_csv(straight / "history.csv")
    assert history.lr.iloc[0] == -1.0 and history.step.tolist() == list(range(1, 121))
    pd.testing.assert_frame_equal(history.iloc[1:], reference.iloc[1:])
    weights, expected = (torch.load(f / "model.pt", weights_only=True) for f in (model_folder, straight))
    assert all(torch.equal(weights[k], expected[k]) for k in expected)
    assert sorted(p.name for p in model_folder.iterdir()) == ["history.csv", "model.pt", "snapshots", "summary.json"]
