"""The toy model in which superposition makes a scaling law (Liu, Liu & Gore 2025).

n features, x_i = u_i·v_i with u_i ~ Bernoulli(p_i) and v_i ~ U(0, 2), Σ p_i = 1 (one active feature
per sample on average), fresh samples every step. The model y = ReLU(W Wᵀ x + b) has W ∈ R^{n×m}
(row W_i is feature i's direction in the m-dimensional hidden space) and b ∈ R^n; its loss is
Σ_i (y_i − x_i)² per sample, the paper's (the mean over features, as its code minimises, times n).

How strongly features are superposed is set by a *signed, decoupled, per-row* weight decay γ on W,
applied every step with the scheduled learning rate η before Adam's update: for γ ≥ 0 ordinary decay
W_i ← (1 − ηγ) W_i; for γ < 0, W_i ← W_i + ηγ W_i (1 − 1/‖W_i‖), which pulls every row towards unit
norm, so that all n features get a direction (strong superposition). γ = −1 and γ = 5/9 are the
strong and the weak regime of the paper's grid (γ ≤ −0.56 strong, γ ≥ +0.11 weak at every width).

Many models of one width train at once as one batch of independent problems (Adam is elementwise and
each model's loss has its own gradient), so a grid over frequency families, γ and seeds costs one loop
per width.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from tqdm.auto import trange

#: ⟨v⟩ and ⟨v²⟩ of v ~ U(0, 2).
MEAN_VALUE, MEAN_SQUARE_VALUE = 1.0, 4.0 / 3.0
#: ‖W_i‖ above which feature i counts as represented (φ½) and strongly represented (φ₁).
REPRESENTED_NORM, STRONG_NORM = 0.5, 1.0
#: The paper's strong and weak regime (two points of its grid γ ∈ linspace(−1, 1, 10)).
STRONG_DECAY, WEAK_DECAY = -1.0, 5.0 / 9.0
#: Optimiser of the paper: AdamW betas, peak learning rate, the cosine's floor as a share of the peak.
BETAS, PEAK_LR, FLOOR_SHARE = (0.9, 0.999), 1e-2, 0.05
FAMILIES = ("power", "exponential")
#: The γ the trainer accepts: the paper's grid spans [−1, 1].
DECAY_RANGE = (-1.0, 1.0)


@dataclass(frozen=True)
class FrequencyFamily:
    """How feature frequencies fall with rank i = 1…n: ``power`` p_i ∝ i^(−value), ``exponential``
    p_i ∝ e^(−i/value); normalised so that Σ p_i = 1."""

    kind: str
    value: float

    def __post_init__(self) -> None:
        if self.kind not in FAMILIES:
            raise ValueError(f"parameter 'kind' = {self.kind!r}: one of {', '.join(FAMILIES)}")
        if not self.value > 0 and not (self.kind == "power" and self.value == 0):
            raise ValueError(f"parameter 'value' = {self.value!r}: a power-law exponent ≥ 0 or an exponential scale > 0")

    @property
    def label(self) -> str:
        return f"power α = {self.value:g}" if self.kind == "power" else f"exponential exp(−i/{self.value:g})"

    def frequencies(self, n_features: int) -> np.ndarray:
        """p (n,), float64, decreasing, summing to 1."""
        rank = np.arange(1, n_features + 1, dtype=float)
        weight = rank ** (-self.value) if self.kind == "power" else np.exp(-rank / self.value)
        return weight / weight.sum()


class SparseSampler:
    """Batches of x (B, n), x_i = Bernoulli(p_i)·U(0, 2), drawn as their active entries only.

    Entry (b, i) is on with probability p_i, independently: the batch gets Poisson(B·Σλ) candidate
    entries, each a uniform sample b and a feature i with probability λ_i/Σλ, and an entry is on when
    it is drawn at least once; with λ_i = −log(1 − p_i) that happens with probability exactly p_i.
    The cost is the ≈ B·Σp active entries (B when Σp = 1), not the B·n uniforms of a dense draw."""

    def __init__(self, frequencies: np.ndarray, batch_size: int, generator: torch.Generator) -> None:
        p = np.asarray(frequencies, dtype=float)
        if p.ndim != 1 or not ((p >= 0) & (p < 1)).all():
            raise ValueError("parameter 'frequencies': one probability per feature, each in [0, 1)")
        self.n_features, self.batch_size, self.generator = len(p), batch_size, generator
        device = generator.device
        self.rates = torch.tensor(-np.log1p(-p), dtype=torch.float64, device=device)  # λ (n,)
        self.expected_candidates = torch.tensor([batch_size * float(self.rates.sum())], dtype=torch.float64, device=device)

    def draw(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Flat indices b·n + i of the active entries (active,), increasing, and their values
        (active,), float32, uniform on (0, 2]."""
        g, device = self.generator, self.generator.device
        count = int(torch.poisson(self.expected_candidates, generator=g).item())
        if count == 0:
            return torch.zeros(0, dtype=torch.long, device=device), torch.zeros(0, device=device)
        feature = torch.multinomial(self.rates, count, replacement=True, generator=g)
        sample = torch.randint(self.batch_size, (count,), generator=g, device=device)
        flat = torch.unique(sample * self.n_features + feature)
        return flat, 2.0 - 2.0 * torch.rand(len(flat), generator=g, device=device)

    def dense(self) -> torch.Tensor:
        """One batch x (B, n), float32."""
        flat, values = self.draw()
        x = torch.zeros(self.batch_size * self.n_features, device=values.device)
        x[flat] = values
        return x.view(self.batch_size, self.n_features)


def sample_seed(seed: int, width: int, family: FrequencyFamily) -> int:
    """The seed of the sample stream of (seed, width, family): every γ of that triple sees the same
    samples, and no other model's presence changes them."""
    return 1_000_003 * seed + 7_919 * width + zlib.crc32(f"{family.kind}:{family.value!r}".encode())


def forward(x: torch.Tensor, weights: torch.Tensor, biases: torch.Tensor) -> torch.Tensor:
    """y = ReLU(W Wᵀ x + b) for x (K, B, n), W (K, n, m), b (K, n): (K, B, n)."""
    return torch.relu(torch.bmm(torch.bmm(x, weights), weights.transpose(1, 2)) + biases[:, None, :])


def gradients(x: torch.Tensor, weights: torch.Tensor, biases: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Each model's gradients of its mean squared error over batch and features, in closed form.

    For x (K, B, n), W (K, n, m), b (K, n), with h = xW, y = ReLU(hWᵀ + b) and the loss
    ℓ = Σ(y − x)²/(Bn): δ = 2(y − x)·[y > 0]/(Bn) (K, B, n), ∂ℓ/∂b = Σ_batch δ and
    ∂ℓ/∂W = δᵀh + xᵀ(δW) (the output and the input path). Returns ∂ℓ/∂W (K, n, m) and ∂ℓ/∂b (K, n).

    x is sparse (about one active feature per sample when Σp = 1), so everything that touches it
    runs on its active entries: h gathers their rows of W, δ is y with x taken off where y > 0, and
    the input path adds back into the active rows. The dense work is ``hWᵀ``, ``δᵀh`` and ``δW``."""
    flat = x.reshape(-1).nonzero().squeeze(1)  # active entries of the (K, B, n) tensor
    return active_gradients(flat, x.reshape(-1)[flat], x.shape, weights, biases)


def active_gradients(
    flat: torch.Tensor, values: torch.Tensor, shape: tuple[int, int, int], weights: torch.Tensor, biases: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`gradients` from the active entries of x alone: their flat indices into the (K, B, n)
    tensor of ``shape`` and their values (both (active,))."""
    n_models, batch, n_features = shape
    row = flat // n_features  # its (model, sample) row of the (K·B, ·) views
    model, feature = row // batch, flat % n_features
    h = torch.zeros(n_models * batch, weights.shape[2], dtype=weights.dtype, device=weights.device)
    h.index_add_(0, row, values[:, None] * weights[model, feature]).resize_(n_models, batch, weights.shape[2])
    y = torch.baddbmm(biases[:, None, :], h, weights.transpose(1, 2)).clamp_(min=0.0)
    delta = y.view(-1)
    delta[flat] -= values * (delta[flat] > 0)  # δ ∝ (y − x)·[y > 0]; y is already 0 where it is not positive
    delta = delta.view(n_models, batch, n_features)
    grad_w = torch.bmm(delta.transpose(1, 2), h)
    back = torch.bmm(delta, weights).view(n_models * batch, -1)[row]  # (active, m)
    grad_w.view(n_models * n_features, -1).index_add_(0, model * n_features + feature, values[:, None] * back)
    scale = 2.0 / (batch * n_features)
    return grad_w.mul_(scale), delta.sum(dim=1).mul_(scale)


def losses(x: torch.Tensor, weights: torch.Tensor, biases: torch.Tensor) -> torch.Tensor:
    """Each model's mean per-sample loss Σ_i (y_i − x_i)² over the batch, for x (K, B, n): (K,)."""
    return (forward(x, weights, biases) - x).square_().sum(dim=2).mean(dim=1)


def signed_decay_(weights: torch.Tensor, decays: torch.Tensor, lr: float, eps: float = 1e-8) -> None:
    """The paper's decoupled per-row decay, in place, for W (K, n, m) and γ (K,): ordinary decay
    where γ ≥ 0, a pull of every row towards unit norm where γ < 0."""
    gamma = decays[:, None, None]
    norms = weights.norm(dim=2, keepdim=True) + eps
    towards_unit = weights * (1.0 + lr * gamma * (1.0 - 1.0 / norms))
    weights.copy_(torch.where(gamma >= 0, weights * (1.0 - lr * gamma), towards_unit))


def learning_rate(step: int, steps: int, warmup: int, peak: float = PEAK_LR) -> float:
    """Linear warm-up to ``peak``, then cosine decay to ``FLOOR_SHARE`` of it (the paper's schedule)."""
    floor = FLOOR_SHARE * peak
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = (step - warmup) / max(steps - warmup, 1)
    return floor + (peak - floor) * 0.5 * (1.0 + math.cos(math.pi * progress))


@dataclass(frozen=True)
class ToyRun:
    """One trained model: its setting, its weights (float64) and its loss on fresh batches."""

    width: int
    family: FrequencyFamily
    decay: float
    seed: int
    weights: np.ndarray  # (n, m)
    biases: np.ndarray  # (n,)
    eval_losses: np.ndarray  # (batches,): the mean per-sample loss Σ_i (y_i − x_i)² of each fresh batch

    @property
    def loss(self) -> float:
        return float(self.eval_losses.mean())


def check_grid(n_features: int, width: int, decays: Sequence[float], seeds: Sequence[int], families: Sequence[FrequencyFamily]) -> None:
    """Refuse a grid the trainer cannot run, naming the parameter, before any work."""
    if not families or not decays or not seeds:
        raise ValueError("parameter 'families', 'decays' and 'seeds': at least one of each")
    if width < 1 or n_features < 2:
        raise ValueError(f"parameter 'width' = {width}, 'n_features' = {n_features}: width ≥ 1 and at least two features")
    for gamma in decays:
        if not DECAY_RANGE[0] <= gamma <= DECAY_RANGE[1]:
            raise ValueError(f"parameter 'decays' holds {gamma!r}: every γ within [{DECAY_RANGE[0]:g}, {DECAY_RANGE[1]:g}] (the paper's grid)")
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"parameter 'seeds' = {list(seeds)}: different seeds")


def initial_parameters(n_features: int, width: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A model's starting point from its seed alone: W ~ N(0, 1/m) (n, m) and b ~ N(0, 1) (n,), drawn
    on the CPU. Untrained, it is the same-kind control of a trained model of its width."""
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n_features, width, generator=g) / math.sqrt(width), torch.randn(n_features, generator=g)


def train_width(
    n_features: int,
    width: int,
    families: Sequence[FrequencyFamily],
    decays: Sequence[float],
    seeds: Sequence[int],
    steps: int,
    batch_size: int,
    warmup: int,
    eval_batches: int,
    progress: bool = True,
    device: torch.device | str = "cpu",
) -> list[ToyRun]:
    """Train every (family, γ, seed) model of one ``width`` at once; return them family-major, then
    γ, then seed. A model depends only on its setting, its seed and the width, never on which others
    share its batch: its initial weights come from its seed (:func:`initial_parameters`, drawn on
    the CPU whatever the ``device``) and its samples from a :class:`SparseSampler` seeded by
    :func:`sample_seed` (on ``device``), shared by the γ of its family and seed. Gradients are
    computed in closed form on the active entries (:func:`active_gradients`)."""
    settings = [(f, g, s) for f in families for g in decays for s in seeds]
    check_grid(n_features, width, decays, seeds, families)
    starts = [initial_parameters(n_features, width, seed) for _, _, seed in settings]
    device = torch.device(device)
    weights = torch.stack([w for w, _ in starts]).to(device)
    biases = torch.stack([b for _, b in starts]).to(device)
    gamma = torch.tensor([g for _, g, _ in settings], dtype=torch.float32, device=device)
    optimizer = torch.optim.Adam([weights, biases], lr=PEAK_LR, betas=BETAS)
    shape = (len(settings), batch_size, n_features)
    per_model = batch_size * n_features
    # One sampler per (family, seed), feeding the models (family, γ, seed) for every γ: their offsets into the (K, B, n) tensor.
    streams = [
        (
            SparseSampler(f.frequencies(n_features), batch_size, torch.Generator(device=device).manual_seed(sample_seed(s, width, f))),
            torch.tensor([((i * len(decays) + j) * len(seeds) + k) * per_model for j in range(len(decays))], device=device),
        )
        for i, f in enumerate(families)
        for k, s in enumerate(seeds)
    ]

    def draw_active() -> tuple[torch.Tensor, torch.Tensor]:
        """One batch for every model: the flat indices into (K, B, n) of its active entries and their values."""
        flats, values = [], []
        for sampler, offsets in streams:
            flat, value = sampler.draw()
            flats.append((offsets[:, None] + flat).view(-1))
            values.append(value.repeat(len(offsets)))
        return torch.cat(flats), torch.cat(values)

    def draw() -> torch.Tensor:
        flat, values = draw_active()
        x = torch.zeros(shape, device=device)
        x.view(-1)[flat] = values
        return x

    for step in trange(steps, desc=f"toy models m = {width} ({len(settings)} at once)", disable=not progress):
        lr = learning_rate(step, steps, warmup)
        for group in optimizer.param_groups:
            group["lr"] = lr
        weights.grad, biases.grad = active_gradients(*draw_active(), shape, weights, biases)
        signed_decay_(weights, gamma, lr)
        optimizer.step()
    eval_losses = torch.stack([losses(draw(), weights, biases) for _ in range(eval_batches)], dim=1)  # (K, batches)
    weights, biases, eval_losses = weights.double().cpu(), biases.double().cpu(), eval_losses.double().cpu()
    return [ToyRun(width, f, float(g), int(s), weights[k].numpy(), biases[k].numpy(), eval_losses[k].numpy()) for k, (f, g, s) in enumerate(settings)]


# --------------------------------------------------------------------------------------------
# The geometry of the rows, and the weak regime's closed form.


def row_norms(weights: np.ndarray) -> np.ndarray:
    """‖W_i‖ for W (n, m): (n,)."""
    return np.linalg.norm(weights, axis=1)


def represented_share(weights: np.ndarray, threshold: float = REPRESENTED_NORM) -> float:
    """φ: the share of features whose row norm exceeds ``threshold`` (φ½ at ½, φ₁ at 1)."""
    return float((row_norms(weights) > threshold).mean())


def mean_squared_overlap(weights: np.ndarray, threshold: float = REPRESENTED_NORM) -> float:
    """Mean of (Ŵ_i·Ŵ_j)² over pairs i ≠ j of rows with norm above ``threshold`` (a row near zero
    has no direction to overlap): NaN with fewer than two such rows. Random unit vectors in R^m give
    exactly 1/m in expectation."""
    rows = weights[row_norms(weights) > threshold]
    if len(rows) < 2:
        return float("nan")
    unit = rows / np.linalg.norm(rows, axis=1, keepdims=True)
    gram_sq = (unit @ unit.T) ** 2
    k = len(rows)
    return float((gram_sq.sum() - np.trace(gram_sq)) / (k * (k - 1)))


def random_overlap(n_rows: int, width: int, seed: int = 0) -> float:
    """The same mean for ``n_rows`` random Gaussian directions in R^width: the reference for 1/m."""
    return mean_squared_overlap(np.random.default_rng(seed).standard_normal((n_rows, width)), threshold=0.0)


def left_out_loss(frequencies: np.ndarray, kept: int) -> float:
    """The weak regime's loss when the ``kept`` most frequent features are exact and every other is
    predicted by its mean (b_i = ⟨x_i⟩): Σ_{i>k} (⟨v²⟩p_i − ⟨v⟩²p_i²), ≈ (4/3) Σ_{i>k} p_i."""
    tail = np.asarray(frequencies, dtype=float)[kept:]
    return float((MEAN_SQUARE_VALUE * tail - MEAN_VALUE**2 * tail**2).sum())


@dataclass(frozen=True)
class FrequencyExponent:
    """p_rank ∝ rank^(−exponent), fitted by least squares of log p on log rank at log-spaced ranks."""

    exponent: float
    r_squared: float
    ranks: np.ndarray  # (k,) the ranks the fit used
    frequencies: np.ndarray  # (k,) their frequencies (count / total)


def frequency_exponent(counts: np.ndarray, points: int = 40) -> FrequencyExponent:
    """The frequency–rank exponent of ``counts`` (one per item, any order; zeros are items never
    seen and are left out). Ranks are taken log-spaced from 1 to the last seen item so that the
    long tail does not outvote the head."""
    seen = np.sort(np.asarray(counts, dtype=float))[::-1]
    seen = seen[seen > 0]
    if len(seen) < 3:
        raise ValueError(f"parameter 'counts': three or more items seen at least once, got {len(seen)}")
    ranks = np.unique(np.round(np.geomspace(1, len(seen), points)).astype(int))
    p = seen[ranks - 1] / seen.sum()
    x, y = np.log(ranks), np.log(p)
    slope, intercept = np.polyfit(x, y, 1)
    residual = y - (slope * x + intercept)
    return FrequencyExponent(float(-slope), float(1 - residual @ residual / ((y - y.mean()) @ (y - y.mean()))), ranks, p)
