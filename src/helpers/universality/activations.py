"""SAE latents stored sparse on disk, and the ways of filling such a store: an SAE read over a model's
windows, the same activations with their windows shuffled, the token-identity dictionary.

Activations are stored sparse on disk (CSR: ``indptr.npy``, raw ``indices.bin`` int32 and
``values.bin`` float32, memory-mapped), written once by streaming and read back in token blocks, so
all activations are never in memory at once. Statistics and correlations over such stores are in
:mod:`helpers.universality.correlation`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from helpers.core import atomic


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

        return cls(
            folder,
            meta["n_tokens"],
            meta["n_latents"],
            np.load(folder / "indptr.npy"),
            column("indices.bin", np.int32),
            column("values.bin", np.float32),
        )

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

    def csr(self, start: int, stop: int) -> scipy.sparse.csr_matrix:  # noqa: F821
        """Tokens [start, stop) as a SciPy CSR matrix (tokens, n_latents), float64 values."""
        import scipy.sparse

        lo, hi = int(self.indptr[start]), int(self.indptr[stop])
        return scipy.sparse.csr_matrix(
            (np.asarray(self.values[lo:hi], dtype=np.float64), np.asarray(self.indices[lo:hi]), np.asarray(self.indptr[start : stop + 1]) - lo),
            shape=(stop - start, self.n_latents),
        )

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
    with atomic.atomic_folder(folder, replace=True) as staging:
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
    return SparseActivations.open(folder)


def token_blocks(n_tokens: int, size: int) -> Iterator[tuple[int, int]]:
    for start in range(0, n_tokens, size):
        yield start, min(start + size, n_tokens)


@torch.no_grad()
def collect_activations(hooked, hook: str, sae, windows: torch.Tensor, folder: str | Path, batch_size: int = 16) -> SparseActivations:
    """Run the model over ``windows`` (n_windows, context), encode ``hook`` with ``sae`` and store
    the latents sparse in ``folder``: T = n_windows · context tokens, in window order."""

    def blocks() -> Iterator[torch.Tensor]:
        for chunk in windows.split(batch_size):
            _, cache = hooked.run_with_cache(chunk, names_filter=hook, return_type=None)
            yield sae.encode(cache[hook]).flatten(0, -2)

    return write_sparse(blocks(), folder, sae.cfg.d_sae if hasattr(sae, "cfg") else sae.d_sae)


def permute_windows(acts: SparseActivations, context: int, seed: int, folder: str | Path, windows_per_block: int = 1024) -> SparseActivations:
    """The same activations with whole windows of ``context`` tokens in a random order (streamed).

    Paired with an unshuffled SAE, token t of one is compared with a token of an unrelated window at
    the same position: no shared feature can correlate, so the maximum correlations it gives are
    the floor that chance, firing frequency and position alone produce.
    """
    if acts.n_tokens % context:
        raise ValueError(f"context must divide the {acts.n_tokens} tokens, got {context}")
    order = np.random.default_rng(seed).permutation(acts.n_tokens // context)

    def blocks() -> Iterator[torch.Tensor]:
        for start in range(0, len(order), windows_per_block):
            chosen = order[start : start + windows_per_block]
            dense = torch.zeros(len(chosen) * context, acts.n_latents)
            for slot, window in enumerate(chosen):
                rows, cols, vals = acts.block(window * context, (window + 1) * context)
                dense[slot * context + rows, cols] = vals.float()
            yield dense

    return write_sparse(blocks(), folder, acts.n_latents)


def token_activations(windows: torch.Tensor, d_vocab: int, folder: str | Path, block_tokens: int = 4096) -> SparseActivations:
    """The token-identity "SAE": latent v fires with value 1 exactly where the current token is v.

    ``windows`` (n_windows, context) in the order every SAE read them; T = n_windows · context.
    An SAE latent's maximum correlation with these latents is how well one token identity alone
    explains it (its token-likeness), and the same maximum across two SAEs is a floor that any
    shared tokenization produces without any shared learned feature.
    """
    flat = windows.reshape(-1).to(torch.int64).cpu()
    if flat.numel() and int(flat.max()) >= d_vocab:
        raise ValueError(f"d_vocab must exceed every token id, got {d_vocab} with token {int(flat.max())}")
    blocks = (torch.nn.functional.one_hot(chunk, d_vocab).float() for chunk in flat.split(block_tokens))
    return write_sparse(blocks, folder, d_vocab)


def top_activations(acts: SparseActivations, latent: int, k: int, token_block: int = 1 << 18) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` tokens where ``latent`` is largest: (token positions, activations), largest first."""
    positions, values = [], []
    for start, stop in token_blocks(acts.n_tokens, token_block):
        lo, hi = int(acts.indptr[start]), int(acts.indptr[stop])
        hits = np.flatnonzero(np.asarray(acts.indices[lo:hi]) == latent)
        rows = np.searchsorted(acts.indptr[start : stop + 1], lo + hits, side="right") - 1 + start
        positions.append(rows), values.append(np.asarray(acts.values[lo:hi])[hits])
    positions, values = np.concatenate(positions), np.concatenate(values)
    best = np.argsort(-values, kind="stable")[:k]
    return positions[best], values[best]


def _latent_then_largest(latents: np.ndarray, values: np.ndarray) -> np.ndarray:
    """One uint64 sort key per stored entry (both arrays (nnz,)): the latent in the high 32 bits and,
    in the low 32, the value's float32 bits inverted, so that larger values sort first (stored values
    are positive, and a positive float32's bits order as the float does). One stable sort on it is
    about three times faster than ``np.lexsort`` on the two keys."""
    bits = values.astype(np.float32).view(np.uint32)
    return (latents.astype(np.uint64) << np.uint64(32)) | (~bits).astype(np.uint64)


def top_by_latent(acts: SparseActivations, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Every latent's ``k`` largest activations at once: (positions, values), each (n_latents, k),
    largest first; a latent firing on fewer than ``k`` tokens is padded with position −1, value 0.
    Ties go to the earlier token, as in :func:`top_activations`."""
    counts = np.diff(acts.indptr)
    rows = np.repeat(np.arange(acts.n_tokens, dtype=np.int64), counts)
    latents = np.asarray(acts.indices, dtype=np.int64)
    values = np.asarray(acts.values, dtype=np.float32)
    order = np.argsort(_latent_then_largest(latents, values), kind="stable")  # stable: ties keep token order
    latents, rows, values = latents[order], rows[order], values[order]
    starts = np.searchsorted(latents, np.arange(acts.n_latents))
    rank = np.arange(len(latents)) - starts[latents]
    keep = rank < k
    positions = np.full((acts.n_latents, k), -1, dtype=np.int64)
    top = np.zeros((acts.n_latents, k), dtype=np.float32)
    positions[latents[keep], rank[keep]] = rows[keep]
    top[latents[keep], rank[keep]] = values[keep]
    return positions, top


def activation_histograms(acts: SparseActivations, bins: int) -> tuple[np.ndarray, np.ndarray]:
    """Each latent's non-zero activations counted in ``bins`` equal bins from 0 to its own maximum:
    (counts (n_latents, bins) int64, maxima (n_latents,) float32, 0 for a dead latent). A value equal
    to the maximum falls in the last bin, as in ``np.histogram``."""
    latents = np.asarray(acts.indices, dtype=np.int64)
    values = np.asarray(acts.values, dtype=np.float32)
    maxima = np.zeros(acts.n_latents, dtype=np.float32)
    np.maximum.at(maxima, latents, values)
    scaled = values.astype(np.float64) / maxima[latents] * bins
    which = np.minimum(scaled.astype(np.int64), bins - 1)
    counts = np.zeros((acts.n_latents, bins), dtype=np.int64)
    np.add.at(counts, (latents, which), 1)
    return counts, maxima
