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
        return f"power α = {self.value:g}" if self.kind == "power" else f"exponential e^(−i/{self.value:g})"

    def frequencies(self, n_features: int) -> np.ndarray:
        """p (n,), float64, decreasing, summing to 1."""
        rank = np.arange(1, n_features + 1, dtype=float)
        weight = rank ** (-self.value) if self.kind == "power" else np.exp(-rank / self.value)
        return weight / weight.sum()


def sample_features(frequencies: torch.Tensor, batch_size: int, generator: torch.Generator) -> torch.Tensor:
    """x (K, B, n) for frequencies (K, n), one uniform draw per entry (:func:`features_from_uniforms`)."""
    draw = torch.rand(frequencies.shape[0], batch_size, frequencies.shape[1], generator=generator, dtype=frequencies.dtype, device=frequencies.device)
    return features_from_uniforms(draw, frequencies[:, None, :])


def features_from_uniforms(uniforms: torch.Tensor, frequencies: torch.Tensor) -> torch.Tensor:
    """x = ReLU(2 − 2u/p) for uniforms u on [0, 1) and frequencies p that broadcast against them
    (e.g. u (1, S, B, n) and p (G, S, 1, n)): feature i is on where u < p_i, and its value
    2(p_i − u)/p_i is then uniform on (0, 2]; one fused pass, then a clamp in place."""
    return torch.addcmul(torch.full((), 2.0, dtype=uniforms.dtype, device=uniforms.device), uniforms, -2.0 / frequencies).clamp_(min=0.0)


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
    share its batch: its initial weights come from its seed (W ~ N(0, 1/m), b ~ N(0, 1), drawn on
    the CPU whatever the ``device``) and its samples from the uniforms of its seed's generator (seeded
    by the seed and the width, on ``device``), which every model of that seed turns into features of
    its own frequencies. Gradients are computed in closed form on the active entries (:func:`active_gradients`)."""
    settings = [(f, g, s) for f in families for g in decays for s in seeds]
    check_grid(n_features, width, decays, seeds, families)
    starts = []
    for _, _, seed in settings:
        g = torch.Generator().manual_seed(seed)
        starts.append((torch.randn(n_features, width, generator=g) / math.sqrt(width), torch.randn(n_features, generator=g)))
    device = torch.device(device)
    weights = torch.stack([w for w, _ in starts]).to(device)
    biases = torch.stack([b for _, b in starts]).to(device)
    frequencies = torch.tensor(np.stack([f.frequencies(n_features) for f, _, _ in settings]), dtype=torch.float32, device=device)
    gamma = torch.tensor([g for _, g, _ in settings], dtype=torch.float32, device=device)
    generators = [torch.Generator(device=device).manual_seed(1_000_003 * s + width) for s in seeds]
    optimizer = torch.optim.Adam([weights, biases], lr=PEAK_LR, betas=BETAS)

    by_seed = frequencies.view(-1, len(seeds), 1, n_features)  # settings are seed-minor: (families·γ, S, 1, n)

    def uniforms() -> torch.Tensor:
        return torch.stack([torch.rand(batch_size, n_features, generator=g, device=device) for g in generators])  # (S, B, n)

    def draw() -> torch.Tensor:
        return features_from_uniforms(uniforms()[None], by_seed).view(len(settings), batch_size, n_features)

    def draw_active() -> tuple[torch.Tensor, torch.Tensor]:
        """The same samples as :func:`draw`, as the flat indices and values of their active entries."""
        u = uniforms()
        flat = (u[None] < by_seed).view(-1).nonzero().squeeze(1)
        per_seed = batch_size * n_features
        group, within = flat // (len(seeds) * per_seed), flat % (len(seeds) * per_seed)
        seed, feature = within // per_seed, flat % n_features
        p = by_seed.view(-1, len(seeds), n_features)[group, seed, feature]
        return flat, torch.addcmul(torch.full((), 2.0, dtype=u.dtype, device=device), u.view(-1)[within], -2.0 / p).clamp_(min=0.0)

    for step in trange(steps, desc=f"toy models m = {width} ({len(settings)} at once)", disable=not progress):
        lr = learning_rate(step, steps, warmup)
        for group in optimizer.param_groups:
            group["lr"] = lr
        weights.grad, biases.grad = active_gradients(*draw_active(), (len(settings), batch_size, n_features), weights, biases)
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
