"""Training loop for the language models: readable in one sitting, resumable, deterministic on CPU.

AdamW (β = 0.9, 0.95; weight decay 0.1 on matrices only), linear warmup then cosine decay to zero,
Kaplan's learning-rate rule by default, gradient clipping at 1.0, bf16 autocast on CUDA and
float32 on CPU. The batch of step t is drawn from a generator seeded by (seed, t), so a run that
is killed and resumed from its last checkpoint sees exactly the batches it would have seen.

Under ``torchrun`` (:mod:`helpers.lm.distributed`) each of N processes computes an equal share of the
same global batch, in micro-batches if asked, and DistributedDataParallel averages the gradients:
every optimizer step sees the data it sees in one process, so the model's cache key does not depend
on N. Only rank 0 evaluates, shows progress and writes files.

Files in a model's folder (``runs/<preset>/models/<name>-<key>/``):
``checkpoint.pt`` while training (atomic, every ``checkpoint_interval`` steps), the weights at each of
those steps in ``snapshots/step-<n>.pt`` (kept: chapter 6 measures how results move as a model
trains), then ``model.pt`` (final weights), ``history.csv`` (train and validation loss) and ``summary.json``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from helpers.core import atomic
from helpers.core.keys import cache_key
from helpers.lm import distributed
from helpers.lm.distributed import SINGLE, World
from helpers.lm.family import ModelShape
from helpers.lm.gpt import GPT, next_token_loss
from helpers.lm.tokens import TokenData
from helpers.theory.scaling import kaplan_parameter_count

SNAPSHOTS = "snapshots"
KAPLAN_LR_INTERCEPT, KAPLAN_LR_SLOPE = 0.003239, 0.0001395


def kaplan_learning_rate(n_params: float) -> float:
    """Kaplan et al.'s rule of thumb lr(N) = 0.003239 − 0.0001395 · ln N."""
    return KAPLAN_LR_INTERCEPT - KAPLAN_LR_SLOPE * math.log(n_params)


@dataclass(frozen=True)
class TrainSettings:
    """Everything besides the shape and the data that determines a trained model."""

    steps: int
    batch_size: int
    n_ctx: int
    learning_rate: float = 0.0  # 0 → Kaplan's rule for the model's N
    warmup_steps: int = 0
    weight_decay: float = 0.1
    grad_clip: float = 1.0
    eval_interval: int = 50
    eval_windows: int = 64
    checkpoint_interval: int = 100
    seed: int = 0

    def learning_rate_for(self, shape: ModelShape) -> float:
        if self.learning_rate > 0:
            return self.learning_rate
        return kaplan_learning_rate(float(kaplan_parameter_count(shape.n_layers, shape.d_model)))

    def lr_at(self, step: int, peak: float) -> float:
        if step < self.warmup_steps:
            return peak * (step + 1) / self.warmup_steps
        progress = (step - self.warmup_steps) / max(self.steps - self.warmup_steps, 1)
        return peak * 0.5 * (1.0 + math.cos(math.pi * min(progress, 1.0)))


@dataclass
class TrainedModel:
    name: str
    folder: Path
    model: GPT
    history: pd.DataFrame
    summary: dict[str, Any]


def model_key(shape: ModelShape, tokens_key: str, settings: TrainSettings) -> str:
    """The model's cache key: its shape, its tokens and its settings (not how many processes train it)."""
    return cache_key([dataclasses.asdict(shape), tokens_key, dataclasses.asdict(settings)])


def batch_at(tokens: np.ndarray, step: int, settings: TrainSettings) -> tuple[torch.Tensor, torch.Tensor]:
    """Random windows for ``step``: (batch, n_ctx) inputs and their next-token targets."""
    generator = torch.Generator().manual_seed(settings.seed * 1_000_003 + step)
    starts = torch.randint(0, len(tokens) - settings.n_ctx - 1, (settings.batch_size,), generator=generator)
    return _windows(tokens, starts.numpy(), settings.n_ctx)


def eval_starts(tokens: np.ndarray, n_ctx: int, windows: int) -> np.ndarray:
    """Evenly spaced, fixed window starts: every model is evaluated on the same tokens."""
    return np.linspace(0, len(tokens) - n_ctx - 1, windows).astype(np.int64)


def _windows(tokens: np.ndarray, starts: np.ndarray, n_ctx: int) -> tuple[torch.Tensor, torch.Tensor]:
    rows = np.stack([tokens[s : s + n_ctx + 1] for s in starts]).astype(np.int64)
    rows = torch.from_numpy(rows)
    return rows[:, :-1], rows[:, 1:]


@torch.no_grad()
def evaluate(model: GPT, tokens: np.ndarray, settings: TrainSettings, device: torch.device) -> float:
    """Mean loss over the fixed validation windows."""
    model.eval()
    starts = eval_starts(tokens, settings.n_ctx, settings.eval_windows)
    total = 0.0
    for chunk in np.array_split(starts, max(1, math.ceil(len(starts) / settings.batch_size))):
        x, y = _windows(tokens, chunk, settings.n_ctx)
        with _autocast(device):
            total += model.loss(x.to(device), y.to(device)).item() * len(chunk)
    model.train()
    return total / len(starts)


def _autocast(device: torch.device):
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return torch.autocast("cpu", enabled=False)


def _optimizer(model: GPT, settings: TrainSettings, device: torch.device) -> torch.optim.AdamW:
    matrices = [p for p in model.parameters() if p.dim() >= 2]
    vectors = [p for p in model.parameters() if p.dim() < 2]
    groups = [{"params": matrices, "weight_decay": settings.weight_decay}, {"params": vectors, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=0.0, betas=(0.9, 0.95), fused=device.type == "cuda")


def _backward(network: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, micro_batch: int, device: torch.device) -> float:
    """Forward and backward over x, y (rows, n_ctx) in chunks of at most ``micro_batch`` rows (0: all
    at once), the gradients summed as those of the rows' mean loss; returns that mean loss. Under
    DistributedDataParallel only the last chunk synchronises the gradients."""
    size = micro_batch or len(x)
    starts = range(0, len(x), size)
    total = 0.0
    for start in starts:
        last = start + size >= len(x)
        sync = contextlib.nullcontext() if last or not hasattr(network, "no_sync") else network.no_sync()
        with sync, _autocast(device):
            loss = next_token_loss(network(x[start : start + size].to(device)), y[start : start + size].to(device))
            if len(starts) > 1:
                loss = loss * (len(x[start : start + size]) / len(x))
        loss.backward()
        total += loss.item()
    return total


def train_model(
    name: str,
    shape: ModelShape,
    data: TokenData,
    settings: TrainSettings,
    models_dir: str | Path,
    device: torch.device,
    progress: bool = True,
    world: World = SINGLE,
    micro_batch: int = 0,
) -> TrainedModel:
    """Train (or resume, or load) one model; the folder name carries the configuration's key. Under
    torchrun every process calls this with its ``world``; all return the same trained model."""
    distributed.check_batch(world, settings.batch_size, micro_batch)
    key = model_key(shape, data.key, settings)
    folder = Path(models_dir) / f"{name}-{key}"
    if (folder / "summary.json").exists():
        return load_trained(name, folder, device)

    model = GPT(shape, settings.n_ctx, data.vocab_size, seed=settings.seed).to(device)
    network = model if world.size == 1 else torch.nn.parallel.DistributedDataParallel(model)
    optimizer = _optimizer(model, settings, device)
    peak = settings.learning_rate_for(shape)
    start, rows, elapsed = 0, [], 0.0
    checkpoint = folder / "checkpoint.pt"
    if checkpoint.exists():
        state = torch.load(checkpoint, map_location=device, weights_only=False)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        start, rows, elapsed = state["step"], state["history"], state["elapsed_s"]

    bar = tqdm(range(start, settings.steps), initial=start, total=settings.steps, desc=name, disable=not (progress and world.is_main))
    started = time.perf_counter() - elapsed
    mine = world.rows(settings.batch_size)
    for step in bar:
        for group in optimizer.param_groups:
            group["lr"] = settings.lr_at(step, peak)
        x, y = batch_at(data.train, step, settings)
        loss = distributed.mean(_backward(network, x[mine], y[mine], micro_batch, device), world)
        torch.nn.utils.clip_grad_norm_(model.parameters(), settings.grad_clip)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        row = {
            "step": step + 1,
            "tokens": (step + 1) * settings.batch_size * settings.n_ctx,
            "lr": optimizer.param_groups[0]["lr"],
            "train_loss": loss,
            "val_loss": float("nan"),
        }
        if world.is_main and ((step + 1) % settings.eval_interval == 0 or step + 1 == settings.steps):
            row["val_loss"] = evaluate(model, data.val, settings, device)
            bar.set_postfix(val=f"{row['val_loss']:.3f}")
        rows.append(row)
        if world.is_main and (step + 1) % settings.checkpoint_interval == 0 and step + 1 < settings.steps:
            with atomic.atomic_path(snapshot_path(folder, step + 1)) as tmp:
                torch.save(model.state_dict(), tmp)
            with atomic.atomic_path(checkpoint) as tmp:
                torch.save(
                    {
                        "model": model.state_dict(),
                        "optimizer": optimizer.state_dict(),
                        "step": step + 1,
                        "history": rows,
                        "elapsed_s": time.perf_counter() - started,
                    },
                    tmp,
                )

    if world.is_main:
        trained = _finish(name, key, shape, data, settings, folder, model, rows, time.perf_counter() - started, start, elapsed, device, world)
    distributed.barrier(world)  # the others return what rank 0 wrote
    return trained if world.is_main else load_trained(name, folder, device)


def _finish(
    name: str,
    key: str,
    shape: ModelShape,
    data: TokenData,
    settings: TrainSettings,
    folder: Path,
    model: GPT,
    rows: list[dict],
    wall: float,
    start: int,
    elapsed: float,
    device: torch.device,
    world: World,
) -> TrainedModel:
    """Write the final weights, the history and the summary (last: it marks the folder complete), then
    drop the checkpoint."""
    history = pd.DataFrame(rows)
    summary = {
        "name": name,
        "key": key,
        "shape": dataclasses.asdict(shape),
        "settings": dataclasses.asdict(settings),
        "tokens_key": data.key,
        "vocab_size": data.vocab_size,
        "peak_lr": settings.learning_rate_for(shape),
        "non_embedding_params": model.non_embedding_parameters(),
        "kaplan_params": float(kaplan_parameter_count(shape.n_layers, shape.d_model)),
        "final_train_loss": float(history["train_loss"].tail(max(settings.eval_interval, 1)).mean()),
        "final_val_loss": float(history["val_loss"].dropna().iloc[-1]),
        "train_tokens": settings.steps * settings.batch_size * settings.n_ctx,
        "wall_time_s": wall,
        "tokens_per_s": (settings.steps - start) * settings.batch_size * settings.n_ctx / max(wall - elapsed, 1e-9),
        "device": str(device),
        "processes": world.size,
    }
    with atomic.atomic_path(folder / "model.pt") as tmp:
        torch.save(model.state_dict(), tmp)
    atomic.write_csv(folder / "history.csv", history)
    atomic.write_json(folder / "summary.json", summary)
    (folder / "checkpoint.pt").unlink(missing_ok=True)
    return TrainedModel(name, folder, model, history, summary)


def snapshot_path(folder: Path, step: int) -> Path:
    """Where training keeps the weights after ``step`` steps."""
    return folder / SNAPSHOTS / f"step-{step:06d}.pt"


def load_trained(name: str, folder: Path, device: torch.device | str = "cpu") -> TrainedModel:
    summary = json.loads((folder / "summary.json").read_text())
    shape = ModelShape(**summary["shape"])
    model = GPT(shape, summary["settings"]["n_ctx"], summary["vocab_size"])
    model.load_state_dict(torch.load(folder / "model.pt", map_location="cpu", weights_only=True))
    return TrainedModel(name, folder, model.to(device), pd.read_csv(folder / "history.csv"), summary)
