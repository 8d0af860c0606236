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

import torch
import torch.nn.functional as F
from torch import nn

from helpers import atomic, hardware, paths
from helpers.gpt import GPT
from helpers.models import ModelShape, build_hooked

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


def training_throughput(widths: list[int], n_layers: int = 8, batch_size: int = 16, n_ctx: int = 256,
                        d_vocab: int = 4096, steps: int = 5, repeats: int = 5, device: str = "auto") -> dict:
    """Tokens/s of our training step (helpers.gpt.GPT) over a plain PyTorch SDPA reference of the
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
        row = {"d_model": width, "n_layers": n_layers, "batch": batch_size, "n_ctx": n_ctx,
               "ours_tokens_per_s": tps["ours"], "reference_tokens_per_s": tps["reference"],
               "hooked_tokens_per_s": tps["hooked"], "ratio_ours_over_reference": tps["ours"] / tps["reference"],
               "ratio_hooked_over_reference": tps["hooked"] / tps["reference"]}
        if dev.type == "cuda":
            flops_per_token = 6 * 12 * n_layers * width**2 + 6 * n_layers * n_ctx * width
            name = torch.cuda.get_device_name(dev)
            peak = next((v for k, v in BF16_PEAK.items() if k in name), None)
            row["mfu"] = tps["ours"] * flops_per_token / peak if peak else None
        rows.append(row)
    return {"benchmark": "training_throughput", "device": hardware.describe_device(dev), "rows": rows}


BENCHMARKS = {"training_throughput": lambda: training_throughput([128, 256])}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m helpers.bench", description=__doc__.split("\n")[0])
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
