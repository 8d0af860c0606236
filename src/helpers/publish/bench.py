"""Benchmarks behind ``make bench``. Each one measures our code against a reference run in the same
process, on the same inputs, prints a table of ratios and writes ``runs/bench/<name>.json``.

Timings are medians over interleaved repeats (ours, reference, ours, reference, …), so a change
in machine load hits both sides alike. Nothing here asserts a speed: tests check behaviour.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from helpers.core import atomic, hardware, paths
from helpers.lm.family import ModelShape, build_hooked
from helpers.lm.gpt import GPT

# Dense bf16 peak FLOP/s by device name, for model FLOPs utilisation on CUDA.
BF16_PEAK = {"H100": 989e12, "H200": 989e12, "A100": 312e12, "L40S": 362e12, "A10": 125e12, "4090": 165e12}


class ReferenceBlock(nn.Module):
    """A plain PyTorch pre-LN block: separate Q, K, V projections with biases, SDPA attention."""

    def __init__(self, shape: ModelShape) -> None:
        super().__init__()
        d = shape.d_model
        self.n_heads = shape.n_heads
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.q, self.k, self.v, self.o = (nn.Linear(d, d) for _ in range(4))
        self.mlp = nn.Sequential(nn.Linear(d, shape.d_mlp), nn.GELU(), nn.Linear(shape.d_mlp, d))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, pos, d = x.shape
        h = self.ln1(x)
        q, k, v = (proj(h).view(batch, pos, self.n_heads, -1).transpose(1, 2) for proj in (self.q, self.k, self.v))
        z = F.scaled_dot_product_attention(q, k, v, is_causal=True).transpose(1, 2).reshape(batch, pos, d)
        x = x + self.o(z)
        return x + self.mlp(self.ln2(x))


class ReferenceGPT(nn.Module):
    def __init__(self, shape: ModelShape, n_ctx: int, d_vocab: int) -> None:
        super().__init__()
        self.wte, self.wpe = nn.Embedding(d_vocab, shape.d_model), nn.Embedding(n_ctx, shape.d_model)
        self.blocks = nn.ModuleList(ReferenceBlock(shape) for _ in range(shape.n_layers))
        self.ln_f, self.head = nn.LayerNorm(shape.d_model), nn.Linear(shape.d_model, d_vocab, bias=False)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        x = self.wte(tokens) + self.wpe(torch.arange(tokens.shape[1], device=tokens.device))
        for block in self.blocks:
            x = block(x)
        return self.head(self.ln_f(x))


def _train_step(model: nn.Module, forward: Callable, device: torch.device) -> Callable[[torch.Tensor, torch.Tensor], None]:
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4, betas=(0.9, 0.95), fused=device.type == "cuda")
    autocast = torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda" else torch.autocast("cpu", enabled=False)

    def step(x: torch.Tensor, y: torch.Tensor) -> None:
        with autocast:
            logits = forward(x)
        loss = F.cross_entropy(logits.float().view(-1, logits.shape[-1]), y.reshape(-1))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    return step


def _seconds(step: Callable, x: torch.Tensor, y: torch.Tensor, steps: int, device: torch.device) -> float:
    if device.type == "cuda":
        torch.cuda.synchronize()
    started = time.perf_counter()
    for _ in range(steps):
        step(x, y)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - started) / steps


def training_throughput(
    widths: list[int],
    n_layers: int = 8,
    batch_size: int = 16,
    n_ctx: int = 256,
    d_vocab: int = 4096,
    steps: int = 5,
    repeats: int = 5,
    device: str = "auto",
) -> dict:
    """Tokens/s of our training step (helpers.lm.gpt.GPT) over a plain PyTorch SDPA reference of the
    same shape; TransformerLens's HookedTransformer is timed too, for context."""
    dev = hardware.resolve_device(device)
    rows = []
    for width in widths:
        shape = ModelShape(n_layers, width)
        torch.manual_seed(0)
        ours = GPT(shape, n_ctx, d_vocab).to(dev)
        reference = ReferenceGPT(shape, n_ctx, d_vocab).to(dev)
        hooked = build_hooked(shape, n_ctx, d_vocab).to(dev)
        candidates = {"ours": (ours, ours), "reference": (reference, reference), "hooked": (hooked, hooked)}
        steps_of = {name: _train_step(model, forward, dev) for name, (model, forward) in candidates.items()}
        x = torch.randint(0, d_vocab, (batch_size, n_ctx), device=dev)
        y = torch.randint(0, d_vocab, (batch_size, n_ctx), device=dev)
        times: dict[str, list[float]] = {name: [] for name in candidates}
        for name in candidates:  # warm-up
            _seconds(steps_of[name], x, y, 2, dev)
        for _ in range(repeats):
            for name in candidates:
                times[name].append(_seconds(steps_of[name], x, y, steps, dev))
        tokens = batch_size * n_ctx
        tps = {name: tokens / statistics.median(t) for name, t in times.items()}
        row = {
            "d_model": width,
            "n_layers": n_layers,
            "batch": batch_size,
            "n_ctx": n_ctx,
            "ours_tokens_per_s": tps["ours"],
            "reference_tokens_per_s": tps["reference"],
            "hooked_tokens_per_s": tps["hooked"],
            "ratio_ours_over_reference": tps["ours"] / tps["reference"],
            "ratio_hooked_over_reference": tps["hooked"] / tps["reference"],
        }
        if dev.type == "cuda":
            flops_per_token = 6 * 12 * n_layers * width**2 + 6 * n_layers * n_ctx * width
            name = torch.cuda.get_device_name(dev)
            peak = next((v for k, v in BF16_PEAK.items() if k in name), None)
            row["mfu"] = tps["ours"] * flops_per_token / peak if peak else None
        rows.append(row)
    return {"benchmark": "training_throughput", "device": hardware.describe_device(dev), "rows": rows}


class PeakMemory:
    """Peak resident memory of this process above a baseline, sampled every 5 ms in a thread."""

    def __enter__(self) -> PeakMemory:
        import threading

        import psutil

        self._process, self._stop = psutil.Process(), threading.Event()
        self.baseline = self.peak = self._process.memory_info().rss
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(0.005):
            self.peak = max(self.peak, self._process.memory_info().rss)

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._process.memory_info().rss)

    @property
    def used(self) -> int:
        return self.peak - self.baseline


def sparse_activations(n_tokens: int, n_latents: int, active: int, seed: int) -> torch.Tensor:
    """(n_tokens, n_latents) float32 with ``active`` random latents on per token, values in (0, 1]."""
    generator = torch.Generator().manual_seed(seed)
    indices = (
        torch.rand(n_tokens, n_latents, generator=generator).argsort(dim=1)[:, :active]
        if n_latents <= 512
        else torch.randint(0, n_latents, (n_tokens, active), generator=generator)
    )
    dense = torch.zeros(n_tokens, n_latents)
    dense.scatter_(1, indices, torch.rand(n_tokens, active, generator=generator) + 1e-3)
    return dense


def universality_engine(n_latents: int = 4096, n_tokens: int = 200_000, active: int = 30, device: str = "auto") -> dict:
    """Our sparse streaming max-correlation against the original approach (dense torch.corrcoef over
    the concatenated activations, then a row-wise max) on the same data, in the same process."""
    import gc
    import tempfile

    from helpers.universality.activations import write_sparse
    from helpers.universality.correlation import max_correlations

    dev = hardware.resolve_device(device)
    with tempfile.TemporaryDirectory() as folder:
        blocks = 1 << 14
        stored = []
        for seed in (1, 2):

            def generate(seed=seed):
                for start in range(0, n_tokens, blocks):
                    yield sparse_activations(min(blocks, n_tokens - start), n_latents, active, seed * 1_000_003 + start)

            stored.append(write_sparse(generate(), f"{folder}/{seed}", n_latents))
        gc.collect()
        with PeakMemory() as ours_memory:
            started = time.perf_counter()
            ours = max_correlations(*stored, device=dev)
            ours_seconds = time.perf_counter() - started
        gc.collect()
        with PeakMemory() as dense_memory:
            dense = np.zeros((n_tokens, 2 * n_latents), dtype=np.float32)
            stored[0].dense(dense[:, :n_latents]), stored[1].dense(dense[:, n_latents:])
            concatenated = torch.from_numpy(dense).to(dev)
            started = time.perf_counter()
            corr = torch.corrcoef(concatenated.T)[:n_latents, n_latents:]
            dense_best = torch.nan_to_num(corr, nan=-torch.inf).max(dim=1)
            dense_seconds = time.perf_counter() - started
            del concatenated, corr, dense
    alive = np.isfinite(ours.a_to_b)
    difference = float(np.abs(ours.a_to_b[alive] - dense_best.values.cpu().numpy()[alive]).max())
    agreement = float((ours.a_to_b_index[alive] == dense_best.indices.cpu().numpy()[alive]).mean())
    return {
        "benchmark": "universality_engine",
        "device": hardware.describe_device(dev),
        "rows": [
            {
                "n_latents": n_latents,
                "n_tokens": n_tokens,
                "active_per_token": active,
                "ours_s": ours_seconds,
                "dense_s": dense_seconds,
                "speedup": dense_seconds / ours_seconds,
                "ours_peak_mb": ours_memory.used / 2**20,
                "dense_peak_mb": dense_memory.used / 2**20,
                "memory_ratio": dense_memory.used / max(ours_memory.used, 1),
                "max_abs_difference": difference,
                "argmax_agreement": agreement,
            }
        ],
    }


def splice_prefix(n_layers: int = 8, d_model: int = 96, n_windows: int = 64, n_ctx: int = 128, d_vocab: int = 4096, repeats: int = 5) -> dict:
    """Chapter 5's many splices of one model: a splice at ``blocks.6.hook_resid_pre`` run from the
    cached residual entering block 6 (:func:`helpers.sae.evaluation.prefix_for`) against the full
    forward pass, interleaved, on the quick preset's evaluation windows and widest shape."""
    from helpers.sae.evaluation import prefix_for, spliced_loss

    class RandomSAE:
        def __init__(self) -> None:
            generator = torch.Generator().manual_seed(0)
            self.w = torch.randn(d_model, 8 * d_model, generator=generator) / d_model**0.5

        def encode(self, x: torch.Tensor) -> torch.Tensor:
            return torch.relu(x @ self.w)

        def decode(self, f: torch.Tensor) -> torch.Tensor:
            return f @ self.w.T

    shape = ModelShape(n_layers, d_model)
    hooked = build_hooked(shape, n_ctx, d_vocab)
    tokens = torch.randint(0, d_vocab, (n_windows, n_ctx), generator=torch.Generator().manual_seed(1))
    hook, sae = f"blocks.{min(6, n_layers - 1)}.hook_resid_pre", RandomSAE()
    prefix = prefix_for(hooked, hook, tokens)
    ours, full = [], []
    for _ in range(repeats):
        for times, kwargs in ((ours, {"prefix": prefix}), (full, {})):
            started = time.perf_counter()
            loss = spliced_loss(hooked, hook, sae, tokens, **kwargs)
            times.append(time.perf_counter() - started)
            if kwargs:
                ours_loss = loss
            else:
                full_loss = loss
    return {
        "benchmark": "splice_prefix",
        "device": hardware.describe_device(torch.device("cpu")),
        "rows": [
            {
                "n_layers": n_layers,
                "d_model": d_model,
                "tokens": n_windows * n_ctx,
                "prefix_s": statistics.median(ours),
                "full_s": statistics.median(full),
                "speedup": statistics.median(full) / statistics.median(ours),
                "loss_difference": abs(ours_loss - full_loss),
            }
        ],
    }


def _plain_toy_model(
    n_features: int,
    width: int,
    power: float,
    decay: float,
    seed: int,
    steps: int,
    batch_size: int,
    warmup: int,
    eval_batches: int,
    trainer_samples: bool = False,
) -> float:
    """One toy model of the scaling chapter trained alone in a plain loop (its own parameters,
    optimiser, decay step and samples, autograd): the reference for :func:`toy_grid`. Its inputs are
    drawn densely, a uniform per entry as a plain implementation would; with ``trainer_samples``
    it reads the trainer's own samples instead, so that both see the same data. Returns its final loss."""
    from helpers.theory.scaling_toy import BETAS, PEAK_LR, FrequencyFamily, SparseSampler, learning_rate, sample_seed

    start = torch.Generator().manual_seed(seed)
    weights = (torch.randn(n_features, width, generator=start) / width**0.5).requires_grad_(True)
    biases = torch.randn(n_features, generator=start).requires_grad_(True)
    family = FrequencyFamily("power", power)
    p = torch.tensor(family.frequencies(n_features), dtype=torch.float32)
    optimizer = torch.optim.Adam([weights, biases], lr=PEAK_LR, betas=BETAS)
    samples = torch.Generator().manual_seed(sample_seed(seed, width, family))
    sampler = SparseSampler(family.frequencies(n_features), batch_size, samples)

    def draw() -> torch.Tensor:
        if trainer_samples:
            return sampler.dense()
        u = torch.rand(batch_size, n_features, generator=samples)
        return torch.relu(2.0 - 2.0 * u / p)  # on where u < p, then uniform on (0, 2]

    for step in range(steps):
        lr = learning_rate(step, steps, warmup)
        optimizer.param_groups[0]["lr"] = lr
        x = draw()
        loss = ((torch.relu(x @ weights @ weights.T + biases) - x) ** 2).mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        with torch.no_grad():
            if decay >= 0:
                weights.mul_(1.0 - lr * decay)
            else:
                weights.add_(lr * decay * weights * (1.0 - 1.0 / (weights.norm(dim=1, keepdim=True) + 1e-8)))
        optimizer.step()
    with torch.no_grad():
        return float(
            np.mean(
                [((torch.relu(x @ weights @ weights.T + biases) - x) ** 2).sum(dim=1).mean().item() for x in (draw() for _ in range(eval_batches))]
            )
        )


def toy_grid(
    n_features: int = 1000,
    width: int = 32,
    powers: tuple[float, ...] = (1.0, 2.0, 3.0),
    seeds: tuple[int, ...] = (0, 1),
    steps: int = 30,
    batch_size: int = 512,
    repeats: int = 3,
) -> dict:
    """Chapter 8's toy grid (defaults: the study grid's shape): every (frequency exponent, γ, seed) model of one width trained
    as one batched program (:func:`helpers.theory.scaling_toy.train_width`) against the same models
    trained one after another in a plain loop that draws its inputs densely (:func:`_plain_toy_model`),
    interleaved; steps/s of each and, for one model trained alone both ways (the same initial weights
    and the trainer's samples), the largest relative difference of losses."""
    from helpers.theory.scaling_toy import STRONG_DECAY, WEAK_DECAY, FrequencyFamily, train_width

    families = [FrequencyFamily("power", a) for a in powers]
    decays = (STRONG_DECAY, WEAK_DECAY)
    settings = [(f.value, g, s) for f in families for g in decays for s in seeds]
    common = {"steps": steps, "batch_size": batch_size, "warmup": max(steps // 3, 1)}
    ours, plain = [], []
    for _ in range(repeats):
        started = time.perf_counter()
        train_width(n_features, width, families, decays, seeds, eval_batches=1, progress=False, **common)
        ours.append(time.perf_counter() - started)
        started = time.perf_counter()
        for power, decay, seed in settings:
            _plain_toy_model(n_features, width, power, decay, seed, eval_batches=1, **common)
        plain.append(time.perf_counter() - started)
    differences = []
    for family in families:
        for decay in decays:
            batched = train_width(n_features, width, [family], [decay], [seeds[0]], eval_batches=4, progress=False, **common)[0].loss
            alone = _plain_toy_model(n_features, width, family.value, decay, seeds[0], eval_batches=4, trainer_samples=True, **common)
            differences.append(abs(batched - alone) / alone)
    return {
        "benchmark": "toy_grid",
        "device": hardware.describe_device(torch.device("cpu")),
        "rows": [
            {
                "models": len(settings),
                "n_features": n_features,
                "width": width,
                "batched_steps_per_s": steps / statistics.median(ours),
                "plain_steps_per_s": steps / statistics.median(plain),
                "speedup": statistics.median(plain) / statistics.median(ours),
                "max_relative_loss_difference": max(differences),
            }
        ],
    }


BENCHMARKS = {
    "training_throughput": lambda: training_throughput([128, 256]),
    "universality_engine": lambda: universality_engine(),
    "splice_prefix": lambda: splice_prefix(),
    "toy_grid": lambda: toy_grid(),
}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m helpers.publish.bench", description=__doc__.split("\n")[0])
    parser.add_argument("names", nargs="*", default=list(BENCHMARKS), help=f"any of {', '.join(BENCHMARKS)}")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.names) - set(BENCHMARKS))
    if unknown:
        parser.error(f"unknown benchmark {', '.join(unknown)}; allowed: {', '.join(BENCHMARKS)}")
    for name in args.names:
        result = BENCHMARKS[name]()
        path = atomic.write_json(paths.project_root() / "runs" / "bench" / f"{name}.json", result)
        print(f"\n{name} on {result['device']}  ({path})")
        keys = [k for k in result["rows"][0] if k not in ("n_layers", "batch", "n_ctx")]
        print("  ".join(f"{k:>28}" for k in keys))
        for row in result["rows"]:
            print("  ".join(f"{row[k]:>28.3f}" if isinstance(row[k], float) else f"{row[k]!s:>28}" for k in keys))


if __name__ == "__main__":
    main()
