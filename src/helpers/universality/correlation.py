"""Exact, streaming statistics of SAE latents and the maximum Pearson correlation between the
latents of two SAEs read over the same tokens (:mod:`helpers.universality.activations` stores them).

The n_A × n_B matrix of cross moments Σ_t a_ti b_tj is held in float64 one chunk of A's latents at a
time (at most ``chunk_bytes``). Each token adds the outer product of its active latents: k_A · k_B
multiply-adds, not n_A · n_B. The same code runs on CUDA.

Pearson correlation from the moments: r_ij = (S_ij / T − μ_i ν_j) / (σ_i τ_j), population moments.
A latent that never fires has σ = 0 and no correlation: it gets NaN, is counted, and is left out
of every maximum. The original analysis's arithmetic is available with ``epsilon``: its running
statistics started from a pseudo-observation, which amounts to
r′_ij = (C_ij + ε) / √((M2_i + ε)(M2_j + ε)) with C_ij = T·cov, M2_i = T·σ_i² and ε = 1e-4, so a
dead latent has a correlation (exactly 1 with another dead latent) and nothing is left out.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import torch

from helpers.universality.activations import SparseActivations, token_blocks


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
    for start, stop in token_blocks(acts.n_tokens, token_block):
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
    matrix: np.ndarray | None = None  # (n_A, n_B) float32 correlations (NaN for dead), when asked for

    def reversed(self) -> MaxCorrelation:
        """The same result seen from B."""
        return MaxCorrelation(
            self.b_to_a, self.b_to_a_index, self.a_to_b, self.a_to_b_index, self.stats_b, self.stats_a, None if self.matrix is None else self.matrix.T
        )


def _add_cross_moments(
    blocks: Callable[[int, int], tuple],
    n_tokens: int,
    lo: int,
    hi: int,
    token_block: int,
    device: torch.device,
    pool: ThreadPoolExecutor,
    workers: int,
    out: torch.Tensor,
) -> None:
    """Add Σ_t a_ti · b_tj over all tokens, for A's latents i in [lo, hi), into ``out`` (hi − lo, n_B).

    Token block by token block (``blocks(start, stop)`` gives Aᵀ and B of those tokens as SciPy CSR),
    a sparse × sparse product, exact in float64: on the
    CPU with SciPy's SMMP kernel (it releases the GIL; ``workers`` threads take disjoint rows of
    ``out``), on CUDA with cuSPARSE through ``torch.sparse.mm``.
    """
    for start, stop in token_blocks(n_tokens, token_block):
        transposed, right = blocks(start, stop)
        left = transposed[lo:hi]
        if device.type == "cpu":

            def add_rows(rows: tuple[int, int]) -> None:  # the pool below finishes within this chunk
                out[rows[0] : rows[1]] += torch.from_numpy((left[rows[0] : rows[1]] @ right).toarray())  # noqa: B023

            bounds = np.linspace(0, hi - lo, workers + 1).astype(int)
            list(pool.map(add_rows, [(r0, r1) for r0, r1 in zip(bounds[:-1], bounds[1:]) if r1 > r0]))
            continue
        to_torch = lambda m: torch.sparse_csr_tensor(  # noqa: E731
            torch.from_numpy(m.indptr.astype(np.int64)),
            torch.from_numpy(m.indices.astype(np.int64)),
            torch.from_numpy(m.data),
            size=m.shape,
            device=device,
            check_invariants=False,
        )
        out += torch.sparse.mm(to_torch(left), to_torch(right)).to_dense()


def max_correlations(
    a: SparseActivations,
    b: SparseActivations,
    chunk_bytes: int | None = None,
    token_block: int = 1 << 18,
    device: torch.device | str = "cpu",
    workers: int = 2,
    stats: tuple[LatentStats, LatentStats] | None = None,
    keep_matrix: bool = False,
    epsilon: float = 0.0,
) -> MaxCorrelation:
    """Exact maximum Pearson correlations between the latents of ``a`` and ``b`` (same tokens).

    Cross moments S_ij = Σ_t a_ti b_tj are accumulated in float64 for a chunk of A's latents at a
    time (at most ``chunk_bytes`` of accumulator: by default 32 MiB on the CPU, 1 GiB on CUDA), over
    blocks of ``token_block`` tokens. On the CPU the chunk's rows are split between ``workers``
    threads, each owning its rows of the accumulator. ``stats`` are both sides' :func:`latent_stats`
    when the caller already has them. ``keep_matrix`` also returns the whole (n_A, n_B) matrix in
    float32 (for one-to-one matching); ``epsilon`` > 0 applies the original analysis's arithmetic.
    """
    if a.n_tokens != b.n_tokens:
        raise ValueError(f"a and b must cover the same tokens, got {a.n_tokens} and {b.n_tokens}")
    device = torch.device(device)
    workers = workers if device.type == "cpu" else 1
    T = a.n_tokens
    chunk_bytes = chunk_bytes or (1 << 25 if device.type == "cpu" else 1 << 30)
    chunk = max(1, min(a.n_latents, chunk_bytes // (8 * b.n_latents)))

    @functools.lru_cache(maxsize=1)  # with one token block, every chunk reuses it
    def blocks(start: int, stop: int) -> tuple:
        return a.csr(start, stop).T.tocsr(), b.csr(start, stop)

    if stats is None:
        with ThreadPoolExecutor(max_workers=2) as pool:
            stats = tuple(pool.map(latent_stats, (a, b)))
    stats_a, stats_b = stats
    mu_b = torch.from_numpy(stats_b.mean).to(device)
    sd_b = torch.from_numpy(stats_b.std).to(device)
    alive_b = sd_b > 0 if not epsilon else torch.ones_like(sd_b, dtype=torch.bool)
    matrix = np.empty((a.n_latents, b.n_latents), dtype=np.float32) if keep_matrix else None
    a_to_b = np.full(a.n_latents, np.nan)
    a_to_b_index = np.full(a.n_latents, -1, dtype=np.int64)
    b_best = torch.full((b.n_latents,), -torch.inf, dtype=torch.float64, device=device)
    b_best_index = torch.full((b.n_latents,), -1, dtype=torch.int64, device=device)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for lo in range(0, a.n_latents, chunk):
            hi = min(lo + chunk, a.n_latents)
            cross = torch.zeros(hi - lo, b.n_latents, dtype=torch.float64, device=device)
            _add_cross_moments(blocks, T, lo, hi, token_block, device, pool, workers, cross)
            mu_a = torch.from_numpy(stats_a.mean[lo:hi]).to(device)
            sd_a = torch.from_numpy(stats_a.std[lo:hi]).to(device)
            alive_a = sd_a > 0 if not epsilon else torch.ones_like(sd_a, dtype=torch.bool)
            if epsilon:
                corr = cross.sub_(T * mu_a[:, None] * mu_b[None, :]).add_(epsilon)
                corr.div_(torch.sqrt((T * sd_a[:, None] ** 2 + epsilon) * (T * sd_b[None, :] ** 2 + epsilon)))
            else:
                corr = cross.div_(T).sub_(mu_a[:, None] * mu_b[None, :]).div_(sd_a[:, None] * sd_b[None, :])
            corr.masked_fill_(~(alive_a[:, None] & alive_b[None, :]), -torch.inf)
            if matrix is not None:
                matrix[lo:hi] = corr.nan_to_num(nan=np.nan, neginf=np.nan).cpu().numpy()
            row_best, row_index = corr.max(dim=1)
            alive_rows = (alive_a & alive_b.any()).cpu().numpy()
            a_to_b[lo:hi] = np.where(alive_rows, row_best.cpu().numpy(), np.nan)
            a_to_b_index[lo:hi] = np.where(alive_rows, row_index.cpu().numpy(), -1)
            col_best, col_index = corr.max(dim=0)
            better = col_best > b_best
            b_best = torch.where(better, col_best, b_best)
            b_best_index = torch.where(better, col_index + lo, b_best_index)
    b_to_a = b_best.cpu().numpy()
    b_dead = ~np.isfinite(b_to_a)
    return MaxCorrelation(
        a_to_b, a_to_b_index, np.where(b_dead, np.nan, b_to_a), np.where(b_dead, -1, b_best_index.cpu().numpy()), stats_a, stats_b, matrix
    )


#: The original analysis's pseudo-observation, as it enters r′ (see the module's docstring).
ORIGINAL_EPSILON = 1e-4


def with_original_arithmetic(result: MaxCorrelation, epsilon: float = ORIGINAL_EPSILON) -> np.ndarray:
    """(n_A,) A's maximum correlations as the original's arithmetic gives them, exactly, from a result
    computed without it that kept its matrix: every pair gets the pseudo-count,
    r′_ij = (C_ij + ε) / √((M2_i + ε)(M2_j + ε)) with C_ij = r_ij √(M2_i M2_j) (0 where a latent is dead).

    Not small for rarely firing latents: when M2 is comparable to ε, r′ departs from r at every pair,
    and against a dead latent j, r′_ij = ε / √((M2_i + ε) ε) (exactly 1 when i is dead too).
    """
    if result.matrix is None:
        raise ValueError("the original's arithmetic needs the correlation matrix: call max_correlations with keep_matrix=True")
    m2_a = result.stats_a.n_tokens * result.stats_a.std**2
    m2_b = result.stats_b.n_tokens * result.stats_b.std**2
    r = np.nan_to_num(result.matrix.astype(np.float64), nan=0.0)
    cross = r * np.sqrt(m2_a)[:, None] * np.sqrt(m2_b)[None, :]
    return ((cross + epsilon) / np.sqrt((m2_a + epsilon)[:, None] * (m2_b + epsilon)[None, :])).max(axis=1)
