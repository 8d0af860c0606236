"""Toy models of superposition (Elhage et al. 2022), many trained at once in one tensor program.

Model: x′ = ReLU(WᵀW x + b) with W ∈ R^{m×n}; features x_i are 0 with probability S (the
sparsity), else uniform on [0, 1]; loss Σ_i I_i (x_i − x′_i)² with importance I_i = decay^i.
Every (sparsity, importance decay) pair is one *instance*; all instances train together as a
batch of independent models, so a sweep costs one loop.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from tqdm.auto import trange

#: ‖W_i‖ above which a feature counts as represented (Elhage et al.'s reading of the weights).
REPRESENTED_NORM = 0.5


@dataclass(frozen=True)
class ToyModels:
    """Trained instances. Arrays are float64 numpy; I = instances, m = hidden, n = features."""

    weights: np.ndarray  # (I, m, n)
    biases: np.ndarray  # (I, n)
    sparsities: np.ndarray  # (I,)
    importance_decays: np.ndarray  # (I,)
    final_loss: np.ndarray  # (I,), mean over the last tenth of training

    @property
    def n_hidden(self) -> int:
        return self.weights.shape[1]

    @property
    def n_features(self) -> int:
        return self.weights.shape[2]

    def gram(self) -> np.ndarray:
        """WᵀW for every instance: (I, n, n)."""
        return np.einsum("imn,imk->ink", self.weights, self.weights)

    def feature_norms(self) -> np.ndarray:
        """‖W_i‖, the length of each feature's direction: (I, n)."""
        return np.linalg.norm(self.weights, axis=1)

    def represented(self, threshold: float = REPRESENTED_NORM) -> np.ndarray:
        """Number of features with ‖W_i‖ > threshold: (I,)."""
        return (self.feature_norms() > threshold).sum(axis=1)

    def dimensions_per_feature(self) -> np.ndarray:
        """D* = m / ‖W‖_F²: (I,). 1 when m features are stored orthogonally, 1/2 for antipodal pairs."""
        return self.n_hidden / np.einsum("imn,imn->i", self.weights, self.weights)

    def feature_dimensionality(self) -> np.ndarray:
        """D_i = ‖W_i‖² / Σ_j (Ŵ_i·W_j)²: the share of a dimension each feature gets: (I, n)."""
        gram = self.gram()
        norms_sq = np.einsum("inn->in", gram)
        unit_dots = gram / np.sqrt(np.maximum(norms_sq, 1e-30))[:, :, None]
        return norms_sq / np.maximum((unit_dots**2).sum(axis=2), 1e-30)

    def superposition(self) -> np.ndarray:
        """Σ_{j≠i} (Ŵ_i·W_j)²: how much other features interfere with feature i: (I, n)."""
        gram = self.gram()
        norms_sq = np.einsum("inn->in", gram)
        unit_dots_sq = gram**2 / np.maximum(norms_sq, 1e-30)[:, :, None]
        return unit_dots_sq.sum(axis=2) - norms_sq * (norms_sq > 1e-30)


def train_toy_models(
    n_features: int,
    n_hidden: int,
    sparsities: Sequence[float],
    importance_decays: Sequence[float] = (1.0,),
    steps: int = 10_000,
    batch_size: int = 1024,
    lr: float = 1e-3,
    seed: int = 0,
    progress: bool = True,
) -> ToyModels:
    """Train one model per (sparsity, decay) pair, all at once; instances are sparsity-major."""
    pairs = list(itertools.product(sparsities, importance_decays))
    sparsity = torch.tensor([s for s, _ in pairs], dtype=torch.float32)
    decay = torch.tensor([d for _, d in pairs], dtype=torch.float32)
    if torch.any((sparsity < 0) | (sparsity >= 1)):
        raise ValueError(f"sparsities must lie in [0, 1), got {list(sparsities)}")
    if torch.any(decay <= 0):
        raise ValueError(f"importance_decays must be > 0, got {list(importance_decays)}")
    n_instances = len(pairs)
    generator = torch.Generator().manual_seed(seed)
    importance = decay[:, None] ** torch.arange(n_features, dtype=torch.float32)  # (I, n)
    weights = torch.empty(n_instances, n_hidden, n_features)
    for w in weights:
        torch.nn.init.xavier_normal_(w, generator=generator)
    weights.requires_grad_(True)
    biases = torch.zeros(n_instances, n_features, requires_grad=True)
    optimizer = torch.optim.AdamW([weights, biases], lr=lr)
    density = (1.0 - sparsity)[:, None, None]  # (I, 1, 1)
    tail = max(steps // 10, 1)
    losses = torch.zeros(n_instances)
    for step in trange(steps, desc=f"toy models ({n_instances} at once)", disable=not progress):
        # One uniform draw v per entry: the feature is on when v < 1 − S, and then v / (1 − S) is
        # uniform on [0, 1], so x has exactly the intended distribution at half the random numbers.
        v = torch.rand(n_instances, batch_size, n_features, generator=generator)
        x = torch.where(v < density, v / density, 0.0)
        hidden = torch.einsum("ibn,imn->ibm", x, weights)
        out = torch.relu(torch.einsum("ibm,imn->ibn", hidden, weights) + biases[:, None, :])
        loss_per_instance = (importance[:, None, :] * (x - out) ** 2).mean(dim=(1, 2))
        optimizer.zero_grad(set_to_none=True)
        loss_per_instance.sum().backward()
        optimizer.step()
        if step >= steps - tail:
            losses += loss_per_instance.detach() / tail
    return ToyModels(
        weights=weights.detach().double().numpy(),
        biases=biases.detach().double().numpy(),
        sparsities=np.array([s for s, _ in pairs], dtype=float),
        importance_decays=np.array([d for _, d in pairs], dtype=float),
        final_loss=losses.double().numpy(),
    )
