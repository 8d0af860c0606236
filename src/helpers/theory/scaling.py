"""Neural scaling laws: Kaplan et al. (2020), Chinchilla (Hoffmann et al. 2022) and the Epoch AI
refit (Besiroglu et al. 2024); parameter counts, training compute and power-law fits.

Conventions: ``n_params`` (N) counts non-embedding parameters, ``n_tokens`` (D) training tokens,
``flops`` (C) training compute, losses are in nats per token. Every function accepts numpy arrays
and broadcasts.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import optimize, stats

ArrayLike = float | np.ndarray


@dataclass(frozen=True)
class KaplanLaw:
    """L(N) = (N_c/N)^α_N, L(D) = (D_c/D)^α_D, L(N, D) = [(N_c/N)^(α_N/α_D) + D_c/D]^α_D."""

    alpha_n: float
    n_c: float
    alpha_d: float
    d_c: float

    def loss_n(self, n_params: ArrayLike) -> ArrayLike:
        """Loss of a model of N parameters trained to convergence (data not limiting)."""
        return (self.n_c / np.asarray(n_params, dtype=float)) ** self.alpha_n

    def loss_d(self, n_tokens: ArrayLike) -> ArrayLike:
        """Loss of a large model trained with early stopping on D tokens."""
        return (self.d_c / np.asarray(n_tokens, dtype=float)) ** self.alpha_d

    def loss(self, n_params: ArrayLike, n_tokens: ArrayLike) -> ArrayLike:
        """Joint law L(N, D), Kaplan et al. eq. (1.5)."""
        n = np.asarray(n_params, dtype=float)
        d = np.asarray(n_tokens, dtype=float)
        return ((self.n_c / n) ** (self.alpha_n / self.alpha_d) + self.d_c / d) ** self.alpha_d


@dataclass(frozen=True)
class ChinchillaLaw:
    """L(N, D) = E + A/N^α + B/D^β, with compute-optimal allocation under C = 6ND."""

    name: str
    e: float
    a: float
    b: float
    alpha: float
    beta: float

    def loss(self, n_params: ArrayLike, n_tokens: ArrayLike) -> ArrayLike:
        n = np.asarray(n_params, dtype=float)
        d = np.asarray(n_tokens, dtype=float)
        return self.e + self.a / n**self.alpha + self.b / d**self.beta

    def compute_optimal(self, flops: ArrayLike) -> tuple[ArrayLike, ArrayLike]:
        """(N_opt, D_opt) minimising L subject to 6·N·D = C (Hoffmann et al. eq. 4).

        N_opt = G (C/6)^(β/(α+β)), D_opt = (C/6)^(α/(α+β)) / G, G = (αA / (βB))^(1/(α+β)).
        """
        c6 = np.asarray(flops, dtype=float) / 6.0
        s = self.alpha + self.beta
        g = (self.alpha * self.a / (self.beta * self.b)) ** (1.0 / s)
        return g * c6 ** (self.beta / s), c6 ** (self.alpha / s) / g


KAPLAN_2020 = KaplanLaw(alpha_n=0.076, n_c=8.8e13, alpha_d=0.095, d_c=5.4e13)
HOFFMANN_2022 = ChinchillaLaw("Chinchilla (Hoffmann et al. 2022)", 1.69, 406.4, 410.7, 0.34, 0.28)
BESIROGLU_2024 = ChinchillaLaw("Epoch AI refit (Besiroglu et al. 2024)", 1.8172, 482.01, 2085.43, 0.3478, 0.3658)


def training_flops(n_params: ArrayLike, n_tokens: ArrayLike) -> ArrayLike:
    """C ≈ 6·N·D: forward (2N) plus backward (4N) FLOPs per token."""
    return 6.0 * np.asarray(n_params, dtype=float) * np.asarray(n_tokens, dtype=float)


def kaplan_parameter_count(n_layers: ArrayLike, d_model: ArrayLike) -> ArrayLike:
    """N ≈ 12·n_layer·d_model² (attention 4d², MLP 8d² per layer; biases and norms ignored)."""
    return 12.0 * np.asarray(n_layers, dtype=float) * np.asarray(d_model, dtype=float) ** 2


def equal_parameter_width(n_params: ArrayLike, n_layers: ArrayLike) -> ArrayLike:
    """The d_model that gives ``n_params`` at depth ``n_layers`` under N = 12·n_layer·d_model²."""
    return np.sqrt(np.asarray(n_params, dtype=float) / (12.0 * np.asarray(n_layers, dtype=float)))


def equal_parameter_family(reference_layers: int, reference_width: int, layers: list[int]) -> pd.DataFrame:
    """Shapes with the reference shape's N at other depths: the neurons change, N does not.

    Columns: n_layer, d_model (real-valued), aspect_ratio (d_model / n_layer), neurons_per_layer
    (d_model), total_neurons (n_layer · d_model), n_params, and each ratio to the reference.
    """
    n_params = kaplan_parameter_count(reference_layers, reference_width)
    n_layer = np.asarray(layers, dtype=float)
    d_model = equal_parameter_width(n_params, n_layer)
    table = pd.DataFrame(
        {
            "n_layer": np.asarray(layers, dtype=int),
            "d_model": d_model,
            "aspect_ratio": d_model / n_layer,
            "neurons_per_layer": d_model,
            "total_neurons": d_model * n_layer,
            "n_params": kaplan_parameter_count(n_layer, d_model),
        }
    )
    reference_aspect = reference_width / reference_layers
    table["aspect_ratio_vs_reference"] = table["aspect_ratio"] / reference_aspect
    table["total_neurons_vs_reference"] = table["total_neurons"] / (reference_width * reference_layers)
    return table


@dataclass(frozen=True)
class PowerLawFit:
    """L(N) = (N_c / N)^α fitted by least squares on log L against log N."""

    n_c: float
    alpha: float
    r_squared: float

    def __call__(self, n_params: ArrayLike) -> ArrayLike:
        return (self.n_c / np.asarray(n_params, dtype=float)) ** self.alpha

    def effective_n(self, losses: ArrayLike) -> ArrayLike:
        """The N at which the law predicts ``losses``: N = N_c · L^(−1/α)."""
        return self.n_c * np.asarray(losses, dtype=float) ** (-1.0 / self.alpha)


def fit_power_law(n_params: ArrayLike, losses: ArrayLike) -> PowerLawFit:
    """Fit L = (N_c/N)^α: log L = α log N_c − α log N is a straight line in log-log space."""
    x = np.log(np.asarray(n_params, dtype=float))
    y = np.log(np.asarray(losses, dtype=float))
    if x.shape != y.shape or x.size < 2:
        raise ValueError(f"need at least two (N, L) pairs of equal length, got {x.size} and {y.size}")
    slope, intercept = np.polyfit(x, y, 1)
    alpha = -slope
    residual = y - (slope * x + intercept)
    r_squared = 1.0 - residual @ residual / ((y - y.mean()) @ (y - y.mean()))
    with np.errstate(over="ignore"):  # a flat law (α near 0) puts N_c beyond float range: inf, not a warning
        n_c = float(np.exp(intercept / alpha))
    return PowerLawFit(n_c=n_c, alpha=float(alpha), r_squared=float(r_squared))


# --------------------------------------------------------------------------------------------
# A law against an alternative of as many parameters, on the same losses.


def least_squares_aic(rss: float, n: int, k: int) -> float:
    """AIC of a least-squares fit: n ln(RSS/n) + 2k for n points and k fitted parameters."""
    return float(n * np.log(max(rss, 1e-300) / n) + 2 * k)


@dataclass(frozen=True)
class LeastSquaresFit:
    """A law fitted to losses L (n,) by least squares on L itself, so that two laws' residuals are
    on one scale and their AIC = n ln(RSS/n) + 2k can be compared."""

    law: str
    parameters: dict[str, float]
    rss: float
    r_squared: float
    n: int
    k: int

    @property
    def aic(self) -> float:
        return least_squares_aic(self.rss, self.n, self.k)


def _least_squares(law: str, parameters: dict[str, float], losses: np.ndarray, predicted: np.ndarray) -> LeastSquaresFit:
    residual = losses - predicted
    total = (losses - losses.mean()) @ (losses - losses.mean())
    return LeastSquaresFit(law, parameters, float(residual @ residual), float(1 - residual @ residual / total), len(losses), len(parameters))


def fit_power_law_on_loss(n_params: ArrayLike, losses: ArrayLike) -> LeastSquaresFit:
    """L = (N_c/N)^α by least squares on L (started from the log-log fit): parameters n_c, alpha."""
    n, y = np.asarray(n_params, dtype=float), np.asarray(losses, dtype=float)
    start = fit_power_law(n, y)
    x = np.log(n)

    def law(x: np.ndarray, log_n_c: float, alpha: float) -> np.ndarray:
        return np.exp(alpha * (log_n_c - x))

    with warnings.catch_warnings():  # two points fit exactly, and their covariance is not estimable: not needed here
        warnings.simplefilter("ignore", optimize.OptimizeWarning)
        (log_n_c, alpha), _ = optimize.curve_fit(law, x, y, p0=(np.log(start.n_c), start.alpha), maxfev=10_000)
    return _least_squares("(N_c/N)^α", {"n_c": float(np.exp(log_n_c)), "alpha": float(alpha)}, y, law(x, log_n_c, alpha))


def fit_inverse_width(widths: ArrayLike, losses: ArrayLike) -> LeastSquaresFit:
    """L = L∞ + A/d, linear least squares in 1/d: parameters l_inf, a."""
    d, y = np.asarray(widths, dtype=float), np.asarray(losses, dtype=float)
    if d.shape != y.shape or d.size < 2:
        raise ValueError(f"need at least two (d, L) pairs of equal length, got {d.size} and {y.size}")
    design = np.column_stack([np.ones_like(d), 1 / d])
    (l_inf, a), *_ = np.linalg.lstsq(design, y, rcond=None)
    return _least_squares("L∞ + A/d", {"l_inf": float(l_inf), "a": float(a)}, y, design @ np.array([l_inf, a]))


@dataclass(frozen=True)
class WidthLawFit:
    """L = A/m^α + B_g fitted to groups g of (width m, loss L) points sharing A and α, each with its
    own offset B_g (Liu, Liu & Gore's fit of 16 model-family × dataset groups); by least squares on L.
    ``alpha_se`` is the standard error of α from the fit's Jacobian (NaN without spare points)."""

    alpha: float
    a: float
    offsets: tuple[float, ...]
    alpha_se: float
    rss: float
    r_squared: float
    n: int

    @property
    def k(self) -> int:
        return 2 + len(self.offsets)

    @property
    def aic(self) -> float:
        return least_squares_aic(self.rss, self.n, self.k)


def fit_width_law(groups: list[tuple[ArrayLike, ArrayLike]]) -> WidthLawFit:
    """Fit :class:`WidthLawFit` to ``groups``, each (widths (n_g,), losses (n_g,)) with at least two
    widths. Started from α = 1 with each offset below its group's smallest loss."""
    widths = [np.asarray(m, dtype=float) for m, _ in groups]
    losses = [np.asarray(y, dtype=float) for _, y in groups]
    if not groups or any(m.shape != y.shape or len(np.unique(m)) < 2 for m, y in zip(widths, losses)):
        raise ValueError("parameter 'groups': one or more (widths, losses) pairs of equal length, each with two or more widths")
    if any(np.any(m <= 0) for m in widths):
        raise ValueError("parameter 'groups': widths must be > 0")
    m_all, y_all = np.concatenate(widths), np.concatenate(losses)
    group = np.concatenate([np.full(len(m), g) for g, m in enumerate(widths)])

    def predict(theta: np.ndarray) -> np.ndarray:
        log_a, alpha, offsets = theta[0], theta[1], theta[2:]
        return np.exp(log_a - alpha * np.log(m_all)) + offsets[group]

    spread = [max(y.max() - y.min(), 1e-12) for y in losses]
    start_offsets = [y.min() - s for y, s in zip(losses, spread)]
    start_a = np.mean([s * m.min() for s, m in zip(spread, widths)]) * 2
    solution = optimize.least_squares(lambda th: predict(th) - y_all, np.array([np.log(start_a), 1.0, *start_offsets]), method="lm", max_nfev=20_000)
    residual = solution.fun
    rss = float(residual @ residual)
    total = float(((y_all - y_all.mean()) ** 2).sum())
    spare = len(y_all) - len(solution.x)
    alpha_se = float("nan")
    if spare > 0:
        covariance = np.linalg.pinv(solution.jac.T @ solution.jac) * rss / spare
        alpha_se = float(np.sqrt(max(covariance[1, 1], 0.0)))
    return WidthLawFit(
        alpha=float(solution.x[1]),
        a=float(np.exp(solution.x[0])),
        offsets=tuple(float(b) for b in solution.x[2:]),
        alpha_se=alpha_se,
        rss=rss,
        r_squared=float(1 - rss / total) if total > 0 else float("nan"),
        n=len(y_all),
    )


def kaplan_terms(n_params: ArrayLike, n_tokens: ArrayLike, law: KaplanLaw = KAPLAN_2020) -> tuple[np.ndarray, np.ndarray]:
    """The two terms inside Kaplan's L(N, D) = [(N_c/N)^(α_N/α_D) + D_c/D]^α_D: (N term, data term)."""
    n, d = np.asarray(n_params, dtype=float), np.asarray(n_tokens, dtype=float)
    return (law.n_c / n) ** (law.alpha_n / law.alpha_d), law.d_c / d


@dataclass(frozen=True)
class Slope:
    """A least-squares slope with its two-sided t-interval (n − 2 degrees of freedom)."""

    value: float
    low: float
    high: float


def slope_with_interval(x: ArrayLike, y: ArrayLike, level: float = 0.95) -> Slope:
    """The least-squares slope of y on x (n,) with its t-interval; NaN ends with fewer than three points."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    centred = x - x.mean()
    slope = float(centred @ (y - y.mean()) / (centred @ centred))
    if len(x) < 3:
        return Slope(slope, float("nan"), float("nan"))
    residual = y - y.mean() - slope * centred
    error = np.sqrt(residual @ residual / (len(x) - 2) / (centred @ centred))
    half = float(stats.t.ppf(0.5 + level / 2, len(x) - 2) * error)
    return Slope(slope, slope - half, slope + half)
