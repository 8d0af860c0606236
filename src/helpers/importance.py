"""Importance against universality: the talk's saturating fit, its density weighting, and Pearson r
with a bootstrap confidence interval.

The fitted curve is y = a(1 − e^(−b(x − c))), x = a latent's importance, y = its universality.
The original fit weighted every point by 1/density (a 2-D Gaussian KDE over the scatter) so that
the dense cloud of unimportant latents does not dominate; ``curve_fit`` minimises Σ((y − f)/σ)²,
so a weight w on the squared residual is σ = 1/√w = √density.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import optimize, stats

# The original analysis's bounds: a ∈ [0.5, 2], b ∈ [0.1, 20], c ≥ 0.1.
ORIGINAL_BOUNDS = {"a": (0.5, 2.0), "b": (0.1, 20.0), "c": (0.1, np.inf)}

#: Coverage of the bootstrap interval reported for r.
CI_LEVEL = 0.95


def saturating(x: np.ndarray, a: float, b: float, c: float) -> np.ndarray:
    """y = a(1 − e^(−b(x − c)))."""
    return a * (1 - np.exp(-b * (x - c)))


def kde_density(x: np.ndarray, y: np.ndarray, max_centers: int = 4096, seed: int = 0) -> np.ndarray:
    """Gaussian KDE density (Scott's bandwidth) of the points (x, y), at each point: (n,).

    With more than ``max_centers`` points the kernel sits on a fixed random subset of that many
    (the density estimate is unbiased; the cost is n · max_centers instead of n²).
    """
    points = np.vstack([x, y]).astype(np.float64)
    centers = points
    if points.shape[1] > max_centers:
        centers = points[:, np.random.default_rng(seed).choice(points.shape[1], max_centers, replace=False)]
    return stats.gaussian_kde(centers)(points)


@dataclass(frozen=True)
class SaturatingFit:
    a: float
    b: float
    c: float
    weighting: str  # "1/KDE" or "none"
    a_fixed: bool
    at_bound: str  # parameters that ended on a bound, comma-separated ("" when none)
    r_squared: float  # unweighted, of y on the fitted curve

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return saturating(x, self.a, self.b, self.c)

    def formula(self) -> str:
        return f"y = {self.a:.2f}(1 − e^(−{self.b:.2f}(x − {self.c:.2f})))"


def fit_saturating(x: np.ndarray, y: np.ndarray, weighting: str = "1/KDE", fix_a: float | None = None,
                   bounds: dict[str, tuple[float, float]] = ORIGINAL_BOUNDS) -> SaturatingFit:
    """Fit y = a(1 − e^(−b(x − c))) by least squares (``scipy.optimize.curve_fit``, trust region).

    x, y: (n,). ``weighting`` is "1/KDE" (the original's) or "none"; ``fix_a`` pins a (the talk's
    a = 1 form). Bounds default to the original analysis's.
    """
    if weighting not in ("1/KDE", "none"):
        raise ValueError(f"weighting must be '1/KDE' or 'none', got {weighting!r}")
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if len(x) != len(y) or len(x) < 4:
        raise ValueError(f"x and y need the same length of at least 4 points, got {len(x)} and {len(y)}")
    sigma = np.sqrt(kde_density(x, y)) if weighting == "1/KDE" else None
    names = ["b", "c"] if fix_a is not None else ["a", "b", "c"]
    low = [bounds[n][0] for n in names]
    high = [bounds[n][1] for n in names]
    start = {"a": 1.0, "b": 5.0, "c": max(bounds["c"][0], min(float(np.quantile(x, 0.05)), 0.5))}
    p0 = [float(np.clip(start[n], lo, hi)) for n, lo, hi in zip(names, low, high)]
    model = (lambda x, b, c: saturating(x, fix_a, b, c)) if fix_a is not None else saturating
    values, _ = optimize.curve_fit(model, x, y, p0=p0, sigma=sigma, bounds=(low, high), method="trf", maxfev=20_000)
    fitted = dict(zip(names, values), **({"a": fix_a} if fix_a is not None else {}))
    on_bound = [n for n, v, lo, hi in zip(names, values, low, high) if np.isclose(v, lo, rtol=1e-6, atol=1e-9) or np.isclose(v, hi, rtol=1e-6)]
    residual = y - saturating(x, fitted["a"], fitted["b"], fitted["c"])
    r_squared = 1 - float((residual**2).sum() / ((y - y.mean()) ** 2).sum())
    return SaturatingFit(float(fitted["a"]), float(fitted["b"]), float(fitted["c"]), weighting, fix_a is not None,
                         ", ".join(on_bound), r_squared)


@dataclass(frozen=True)
class Correlation:
    r: float
    low: float
    high: float
    n: int


def pearson_with_ci(x: np.ndarray, y: np.ndarray, samples: int = 1000, level: float = CI_LEVEL, seed: int = 0,
                    batch: int = 64) -> Correlation:
    """Pearson r of (x, y), (n,) each, and its percentile bootstrap interval (resampling points)."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    r = float(np.corrcoef(x, y)[0, 1])
    rng = np.random.default_rng(seed)
    draws = []
    for start in range(0, samples, batch):
        index = rng.integers(0, len(x), size=(min(batch, samples - start), len(x)))
        xs, ys = x[index], y[index]
        xs = xs - xs.mean(axis=1, keepdims=True)
        ys = ys - ys.mean(axis=1, keepdims=True)
        with np.errstate(invalid="ignore", divide="ignore"):
            draws.append((xs * ys).sum(axis=1) / np.sqrt((xs**2).sum(axis=1) * (ys**2).sum(axis=1)))
    draws = np.concatenate(draws)
    tail = (1 - level) / 2
    low, high = np.nanquantile(draws, [tail, 1 - tail])
    return Correlation(r, float(low), float(high), len(x))
