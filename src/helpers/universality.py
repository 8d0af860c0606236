"""Exact, streaming statistics of SAE latents and the maximum Pearson correlation between the
latents of two SAEs read over the same tokens.

Activations are stored sparse on disk (CSR: ``indptr.npy``, raw ``indices.bin`` int32 and
``values.bin`` float32, memory-mapped), written once by streaming and read back in token blocks, so all activations are never in memory at once, and the
n_A × n_B matrix of cross moments Σ_t a_ti b_tj is held in float64 one chunk of A's latents at a
time (at most ``chunk_bytes``). Each token adds the outer product of its active latents: k_A · k_B
multiply-adds, not n_A · n_B. The same code runs on CUDA.

Pearson correlation from the moments: r_ij = (S_ij / T − μ_i ν_j) / (σ_i τ_j), population moments.
A latent that never fires has σ = 0 and no correlation: it gets NaN, is counted, and is left out
of every maximum (the original experiment's convention, −2, is available via ``dead_value``).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch


@dataclass
class SparseActivations:
    """Latent activations of one SAE over T tokens, CSR on disk (memory-mapped)."""

    folder: Path
    n_tokens: int
    n_latents: int
    indptr: np.ndarray  # (T + 1,) int64
    indices: np.ndarray  # (nnz,) int32
    values: np.ndarray  # (nnz,) float32

    @classmethod
    def open(cls, folder: str | Path) -> SparseActivations:
        folder = Path(folder)
        meta = json.loads((folder / "meta.json").read_text())

        def column(name: str, dtype: type) -> np.ndarray:  # an empty file cannot be memory-mapped
            path = folder / name
            return np.memmap(path, dtype=dtype, mode="r") if path.stat().st_size else np.zeros(0, dtype=dtype)

        return cls(folder, meta["n_tokens"], meta["n_latents"], np.load(folder / "indptr.npy"),
                   column("indices.bin", np.int32), column("values.bin", np.float32))

    @property
    def nnz(self) -> int:
        return int(self.indptr[-1])

    def block(self, start: int, stop: int, device: torch.device | str = "cpu") -> tuple[torch.Tensor, ...]:
        """Tokens [start, stop) as COO: (rows relative to start, latent indices, float64 values)."""
        lo, hi = int(self.indptr[start]), int(self.indptr[stop])
        counts = np.diff(self.indptr[start : stop + 1])
        rows = torch.from_numpy(np.repeat(np.arange(stop - start, dtype=np.int64), counts)).to(device)
        cols = torch.from_numpy(np.asarray(self.indices[lo:hi], dtype=np.int64)).to(device)
        vals = torch.from_numpy(np.asarray(self.values[lo:hi], dtype=np.float64)).to(device)
        return rows, cols, vals

    def csr(self, start: int, stop: int) -> "scipy.sparse.csr_matrix":  # noqa: F821
        """Tokens [start, stop) as a SciPy CSR matrix (tokens, n_latents), float64 values."""
        import scipy.sparse

        lo, hi = int(self.indptr[start]), int(self.indptr[stop])
        return scipy.sparse.csr_matrix(
            (np.asarray(self.values[lo:hi], dtype=np.float64), np.asarray(self.indices[lo:hi]),
             np.asarray(self.indptr[start : stop + 1]) - lo), shape=(stop - start, self.n_latents))

    def dense(self, out: np.ndarray | None = None) -> np.ndarray:
        """(T, n_latents) float64, or written into ``out`` (any float dtype, any wider array's view)."""
        out = np.zeros((self.n_tokens, self.n_latents)) if out is None else out
        counts = np.diff(self.indptr)
        rows = np.repeat(np.arange(self.n_tokens), counts)
        out[rows, np.asarray(self.indices)] = np.asarray(self.values)
        return out


def write_sparse(blocks: Iterable[torch.Tensor], folder: str | Path, n_latents: int) -> SparseActivations:
    """Stream (tokens, n_latents) activation blocks to ``folder`` as CSR; atomic (staged, renamed)."""
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        counts = []
        with open(staging / "indices.bin", "wb") as indices, open(staging / "values.bin", "wb") as values:
            for block in blocks:
                block = block.detach().reshape(-1, n_latents).float().cpu()
                rows, cols = torch.nonzero(block > 0, as_tuple=True)
                counts.append(torch.bincount(rows, minlength=block.shape[0]).numpy())
                indices.write(cols.numpy().astype(np.int32).tobytes())
                values.write(block[rows, cols].numpy().astype(np.float32).tobytes())
        indptr = np.concatenate([[0], np.cumsum(np.concatenate(counts) if counts else [])]).astype(np.int64)
        np.save(staging / "indptr.npy", indptr)
        (staging / "meta.json").write_text(json.dumps({"n_tokens": len(indptr) - 1, "n_latents": n_latents}))
        if folder.exists():
            shutil.rmtree(folder)
        os.replace(staging, folder)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return SparseActivations.open(folder)


def _token_blocks(n_tokens: int, size: int) -> Iterator[tuple[int, int]]:
    for start in range(0, n_tokens, size):
        yield start, min(start + size, n_tokens)


@dataclass
class LatentStats:
    """Per-latent moments over T tokens, float64: (n_latents,) arrays."""

    n_tokens: int
    total: np.ndarray
    total_sq: np.ndarray
    max: np.ndarray
    active: np.ndarray

    @property
    def mean(self) -> np.ndarray:
        return self.total / self.n_tokens

    @property
    def std(self) -> np.ndarray:
        return np.sqrt(np.maximum(self.total_sq / self.n_tokens - self.mean**2, 0.0))

    @property
    def frequency(self) -> np.ndarray:
        """Share of tokens on which the latent is active."""
        return self.active / self.n_tokens

    @property
    def dead(self) -> np.ndarray:
        return self.active == 0

    @property
    def importance(self) -> np.ndarray:
        """The talk's importance: max activation over the SAE's largest max activation."""
        return self.max / self.max.max()


def latent_stats(acts: SparseActivations, token_block: int = 1 << 16) -> LatentStats:
    n = acts.n_latents
    total, total_sq, maximum, active = (torch.zeros(n, dtype=torch.float64) for _ in range(4))
    for start, stop in _token_blocks(acts.n_tokens, token_block):
        _, cols, vals = acts.block(start, stop)
        total.index_add_(0, cols, vals)
        total_sq.index_add_(0, cols, vals**2)
        active.index_add_(0, cols, torch.ones_like(vals))
        maximum.scatter_reduce_(0, cols, vals, reduce="amax")
    return LatentStats(acts.n_tokens, total.numpy(), total_sq.numpy(), maximum.numpy(), active.numpy())


@dataclass
class MaxCorrelation:
    """For each latent of A its best-correlated latent of B, and the reverse. NaN for dead latents."""

    a_to_b: np.ndarray  # (n_A,) max_j r_ij
    a_to_b_index: np.ndarray  # (n_A,) argmax_j, −1 when dead
    b_to_a: np.ndarray  # (n_B,) max_i r_ij
    b_to_a_index: np.ndarray  # (n_B,)
    stats_a: LatentStats
    stats_b: LatentStats


def _cross_block(a: SparseActivations, b: SparseActivations, start: int, stop: int, lo: int, hi: int,
                 device: torch.device) -> torch.Tensor:
    """Σ over tokens [start, stop) of a_ti · b_tj for i in [lo, hi): dense (hi − lo, n_B) float64.

    A sparse × sparse product of the two CSR blocks: on the CPU with SciPy's SMMP kernel, on CUDA
    with cuSPARSE through ``torch.sparse.mm``; both are exact in float64.
    """
    left, right = a.csr(start, stop), b.csr(start, stop)
    if device.type == "cpu":
        product = (left[:, lo:hi].T.tocsr() @ right).toarray()
        return torch.from_numpy(product)
    left = left[:, lo:hi].T.tocsr()
    to_torch = lambda m: torch.sparse_csr_tensor(  # noqa: E731
        torch.from_numpy(m.indptr.astype(np.int64)), torch.from_numpy(m.indices.astype(np.int64)),
        torch.from_numpy(m.data), size=m.shape, device=device, check_invariants=False)
    return torch.sparse.mm(to_torch(left), to_torch(right)).to_dense()


def max_correlations(a: SparseActivations, b: SparseActivations, chunk_bytes: int = 1 << 25,
                     token_block: int = 1 << 16, device: torch.device | str = "cpu",
                     workers: int = 2) -> MaxCorrelation:
    """Exact maximum Pearson correlations between the latents of ``a`` and ``b`` (same tokens).

    Cross moments S_ij = Σ_t a_ti b_tj are accumulated in float64 for a chunk of A's latents at a
    time (at most ``chunk_bytes`` of accumulator), over blocks of ``token_block`` tokens that
    ``workers`` threads multiply in parallel.
    """
    if a.n_tokens != b.n_tokens:
        raise ValueError(f"a and b must cover the same tokens, got {a.n_tokens} and {b.n_tokens}")
    device = torch.device(device)
    stats_a, stats_b = latent_stats(a), latent_stats(b)
    T = a.n_tokens
    chunk = max(1, min(a.n_latents, chunk_bytes // (8 * b.n_latents)))
    mu_b = torch.from_numpy(stats_b.mean).to(device)
    sd_b = torch.from_numpy(stats_b.std).to(device)
    alive_b = sd_b > 0
    a_to_b = np.full(a.n_latents, np.nan)
    a_to_b_index = np.full(a.n_latents, -1, dtype=np.int64)
    b_best = torch.full((b.n_latents,), -torch.inf, dtype=torch.float64, device=device)
    b_best_index = torch.full((b.n_latents,), -1, dtype=torch.int64, device=device)
    for lo in range(0, a.n_latents, chunk):
        hi = min(lo + chunk, a.n_latents)
        cross = torch.zeros(hi - lo, b.n_latents, dtype=torch.float64, device=device)
        with ThreadPoolExecutor(max_workers=workers) as pool:  # SciPy's kernels release the GIL
            for part in pool.map(lambda span: _cross_block(a, b, *span, lo, hi, device), _token_blocks(T, token_block)):
                cross += part
        mu_a = torch.from_numpy(stats_a.mean[lo:hi]).to(device)
        sd_a = torch.from_numpy(stats_a.std[lo:hi]).to(device)
        corr = (cross / T - mu_a[:, None] * mu_b[None, :]) / (sd_a[:, None] * sd_b[None, :])
        valid = (sd_a[:, None] > 0) & alive_b[None, :]
        corr = torch.where(valid, corr, torch.tensor(-torch.inf, dtype=torch.float64, device=device))
        row_best, row_index = corr.max(dim=1)
        alive_rows = ((sd_a > 0) & alive_b.any()).cpu().numpy()
        a_to_b[lo:hi] = np.where(alive_rows, row_best.cpu().numpy(), np.nan)
        a_to_b_index[lo:hi] = np.where(alive_rows, row_index.cpu().numpy(), -1)
        col_best, col_index = corr.max(dim=0)
        better = col_best > b_best
        b_best = torch.where(better, col_best, b_best)
        b_best_index = torch.where(better, col_index + lo, b_best_index)
    b_to_a = b_best.cpu().numpy()
    b_dead = ~np.isfinite(b_to_a)
    return MaxCorrelation(a_to_b, a_to_b_index, np.where(b_dead, np.nan, b_to_a),
                          np.where(b_dead, -1, b_best_index.cpu().numpy()), stats_a, stats_b)


def with_dead_value(values: np.ndarray, dead_value: float | None = None) -> np.ndarray:
    """Apply a convention to dead latents' NaN: None keeps NaN (exclude), −2 is the original's."""
    return values if dead_value is None else np.where(np.isnan(values), dead_value, values)


@torch.no_grad()
def collect_activations(hooked, hook: str, sae, windows: torch.Tensor, folder: str | Path,
                        batch_size: int = 16) -> SparseActivations:
    """Run the model over ``windows`` (n_windows, context), encode ``hook`` with ``sae`` and store
    the latents sparse in ``folder``: T = n_windows · context tokens, in window order."""
    def blocks() -> Iterator[torch.Tensor]:
        for chunk in windows.split(batch_size):
            _, cache = hooked.run_with_cache(chunk, names_filter=hook, return_type=None)
            yield sae.encode(cache[hook]).flatten(0, -2)

    return write_sparse(blocks(), folder, sae.cfg.d_sae if hasattr(sae, "cfg") else sae.d_sae)
