"""Importance against universality: the talk's saturating fit (the original's exactly, and two
alternatives), fit quality, Pearson r with intervals at two levels, and partial correlations.

The fitted curve is y = a(1 − e^(−b(x − c))), x = a latent's importance, y = its universality.

The original analysis called ``curve_fit(f, x, y, sigma=1/density, bounds, maxfev=2000)`` with
``density = gaussian_kde([x, y])([x, y])`` over every plotted point, trying four starting points
and keeping the first that succeeded. ``curve_fit`` minimises Σ((y − f)/σ)², so σ = 1/density
weights each squared residual by density²: the dense cloud of unimportant latents counts *more*,
not less. The weighting "inverse density" (σ = √density, weight 1/density) is what down-weighting
the dense cloud would have needed; both are reported beside an unweighted fit.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import optimize, stats

#: The original analysis's bounds; c's upper bound is max(x) of the data being fitted.
ORIGINAL_BOUNDS = {"a": (0.5, 2.0), "b": (0.1, 20.0), "c": (0.1, None)}
#: The original's starting points (a, b, c), tried in order; the first that converges is kept.
ORIGINAL_STARTS = ((1.0, 5.0, 0.5), (1.0, 1.0, 0.4), (0.8, 10.0, 0.3), (1.2, 3.0, 0.45))
ORIGINAL_MAXFEV = 2000
#: Weightings of the squared residuals: the original's σ = 1/density, σ = √density, none.
WEIGHTINGS = ("original", "inverse density", "none")

#: Coverage of every interval reported for r.
CI_LEVEL = 0.95


def saturating(x: np.ndarray, a: float, b: float, c: float) -> np.ndarray:
    """y = a(1 − e^(−b(x − c)))."""
    return a * (1 - np.exp(-b * (x - c)))


def kde_density(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Gaussian KDE density (Scott's bandwidth) of the points (x, y) at each point, every point a
    kernel centre, as the original computed it: (n,)."""
    points = np.vstack([x, y]).astype(np.float64)
    return stats.gaussian_kde(points)(points)


@dataclass(frozen=True)
class SaturatingFit:
    """One fit of y = a(1 − e^(−b(x − c))) and its quality on the points it was fitted to."""

    a: float
    b: float
    c: float
    weighting: str  # one of WEIGHTINGS
    a_fixed: bool
    at_bound: str  # parameters that ended on a bound, comma-separated ("" when none)
    r_squared: float  # 1 − SS_res/SS_tot of y on the curve, unweighted (≤ 0: no better than the mean)
    below_c: float  # share of points with x < c, where the curve predicts negative universality
    converged: bool = True

    @property
    def is_fit(self) -> bool:
        """A fit worth drawing: it converged and explains more than the mean of y does."""
        return self.converged and np.isfinite(self.r_squared) and self.r_squared > 0

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return saturating(x, self.a, self.b, self.c)

    def formula(self) -> str:
        """The fit in words for tables and prose: its parameters, or why there is none."""
        if not self.converged:
            return "no fit (did not converge)"
        if not self.is_fit:
            return f"no fit (R² = {self.r_squared:.2f})"
        return f"a = {self.a:.2f}, b = {self.b:.2f}, c = {self.c:.2f}"  # the law's parameters: prose shows no caret notation


def _bounds(names: Sequence[str], x: np.ndarray) -> tuple[list[float], list[float]]:
    low = [ORIGINAL_BOUNDS[n][0] for n in names]
    high = [ORIGINAL_BOUNDS[n][1] if ORIGINAL_BOUNDS[n][1] is not None else float(x.max()) for n in names]
    return low, high


def fit_saturating(x: np.ndarray, y: np.ndarray, weighting: str = "original", fix_a: float | None = None) -> SaturatingFit:
    """Fit y = a(1 − e^(−b(x − c))) as the original did: its bounds (c ≤ max x), its four starting
    points in order with ``maxfev`` 2000, the first that converges kept; only the weights differ.

    x, y: (n,). ``weighting``: "original" (σ = 1/density), "inverse density" (σ = √density) or
    "none". ``fix_a`` pins a (the talk's a = 1 form). A scatter no start converges on gives a fit
    with ``converged`` False.
    """
    if weighting not in WEIGHTINGS:
        raise ValueError(f"weighting must be one of {', '.join(map(repr, WEIGHTINGS))}, got {weighting!r}")
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if len(x) != len(y) or len(x) < 4:
        raise ValueError(f"x and y need the same length of at least 4 points, got {len(x)} and {len(y)}")
    density = kde_density(x, y) if weighting != "none" else None
    sigma = {"original": lambda: 1 / density, "inverse density": lambda: np.sqrt(density), "none": lambda: None}[weighting]()
    names = ["b", "c"] if fix_a is not None else ["a", "b", "c"]
    low, high = _bounds(names, x)
    model = (lambda x, b, c: saturating(x, fix_a, b, c)) if fix_a is not None else saturating
    for start in ORIGINAL_STARTS:
        p0 = start[1:] if fix_a is not None else start
        try:  # the original caught every failure, including a start outside the bounds
            values, _ = optimize.curve_fit(model, x, y, p0=p0, sigma=sigma, bounds=(low, high), maxfev=ORIGINAL_MAXFEV)
        except (RuntimeError, ValueError, optimize.OptimizeWarning, np.linalg.LinAlgError):
            continue
        fitted = dict(zip(names, values), **({"a": fix_a} if fix_a is not None else {}))
        on_bound = [
            n for n, v, lo, hi in zip(names, values, low, high) if np.isclose(v, lo, rtol=1e-6, atol=1e-9) or np.isclose(v, hi, rtol=1e-6, atol=1e-9)
        ]
        residual = y - saturating(x, fitted["a"], fitted["b"], fitted["c"])
        r_squared = 1 - float((residual**2).sum() / ((y - y.mean()) ** 2).sum())
        return SaturatingFit(
            float(fitted["a"]),
            float(fitted["b"]),
            float(fitted["c"]),
            weighting,
            fix_a is not None,
            ", ".join(on_bound),
            r_squared,
            float((x < fitted["c"]).mean()),
        )
    return SaturatingFit(np.nan, np.nan, np.nan, weighting, fix_a is not None, "", np.nan, np.nan, converged=False)


# --------------------------------------------------------------------------------------------
# Correlations and their intervals.


@dataclass(frozen=True)
class Correlation:
    r: float
    low: float
    high: float
    n: int


def bootstrap_r(x: np.ndarray, y: np.ndarray, samples: int, seed: int = 0, batch: int = 64) -> np.ndarray:
    """Pearson r of (x, y), (n,) each, on ``samples`` resamples of the points: (samples,)."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    rng = np.random.default_rng(seed)
    draws = []
    for start in range(0, samples, batch):
        index = rng.integers(0, len(x), size=(min(batch, samples - start), len(x)))
        xs, ys = x[index], y[index]
        xs = xs - xs.mean(axis=1, keepdims=True)
        ys = ys - ys.mean(axis=1, keepdims=True)
        with np.errstate(invalid="ignore", divide="ignore"):
            draws.append((xs * ys).sum(axis=1) / np.sqrt((xs**2).sum(axis=1) * (ys**2).sum(axis=1)))
    return np.concatenate(draws)


def percentile_interval(draws: np.ndarray, level: float = CI_LEVEL) -> tuple[float, float]:
    tail = (1 - level) / 2
    low, high = np.nanquantile(draws, [tail, 1 - tail])
    return float(low), float(high)


def pearson_with_ci(x: np.ndarray, y: np.ndarray, samples: int = 1000, level: float = CI_LEVEL, seed: int = 0) -> Correlation:
    """Pearson r of (x, y) and its percentile bootstrap interval over latents of one fixed SAE pair."""
    r = float(np.corrcoef(np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64))[0, 1])
    return Correlation(r, *percentile_interval(bootstrap_r(x, y, samples, seed), level), len(x))


def hierarchical_interval(
    units: Sequence[tuple[str, int, str, int]],
    values: np.ndarray,
    draws: np.ndarray,
    samples: int = 1000,
    level: float = CI_LEVEL,
    seed: int = 0,
    lineage: Mapping[str, str] | None = None,
) -> Correlation:
    """Mean r over pairs of lineages (widths), models and SAE seeds, with a three-level bootstrap interval.

    ``units[k] = (model_a, seed_a, model_b, seed_b)`` names the SAE pair whose observed r is
    ``values[k]`` and whose r on B resamples of its latents is row k of ``draws`` (k, B).
    ``lineage`` maps each model to what its language-model seeds replicate (a width; each model is
    its own lineage when omitted). The point estimate is the mean over lineage pairs of the mean of
    ``values`` over their units. One draw resamples, for every lineage, its models (language-model
    seeds) with replacement; for every model, its SAE seeds; keeps the units whose models and seeds
    were drawn (with multiplicity) and gives each a random latent-level draw; the statistic is the
    mean over lineage pairs of the weighted mean over their units. A lineage pair whose two sides are
    one lineage (two seeds of one width) has its models kept as they are: there the language-model
    seeds are what is compared. The interval so covers language-model seeds (where a lineage has
    several), SAE seeds and latents, not the choice of widths.
    """
    if not (len(units) == len(values) == len(draws)) or not len(units):
        raise ValueError(f"units, values and draws need the same non-zero length, got {len(units)}, {len(values)} and {len(draws)}")
    line = (lambda model: model) if lineage is None else (lambda model: lineage.get(model, model))
    rng = np.random.default_rng(seed)
    seeds: dict[str, list[int]] = {}
    models: dict[str, list[str]] = {}
    for model_a, seed_a, model_b, seed_b in units:
        for model, s in ((model_a, seed_a), (model_b, seed_b)):
            if s not in seeds.setdefault(model, []):
                seeds[model].append(s)
            if model not in models.setdefault(line(model), []):
                models[line(model)].append(model)
    groups: dict[tuple[str, str], list[int]] = {}
    for k, (model_a, _, model_b, _) in enumerate(units):
        groups.setdefault((line(model_a), line(model_b)), []).append(k)
    values = np.asarray(values, dtype=np.float64)
    point = float(np.mean([values[rows].mean() for rows in groups.values()]))
    statistics = np.empty(samples)

    def drawn(pool: list) -> dict:
        if len(pool) == 1:  # nothing to resample (and no random numbers drawn: one seed per width reads as before)
            return {pool[0]: 1}
        return dict(zip(*np.unique(np.asarray(pool, dtype=object)[rng.integers(0, len(pool), size=len(pool))], return_counts=True)))

    for s in range(samples):
        lm_counts = {name: drawn(pool) for name, pool in models.items()}
        counts = {m: dict(zip(*np.unique(rng.choice(v, size=len(v)), return_counts=True))) for m, v in seeds.items()}
        means = []
        for (line_a, line_b), rows in groups.items():
            weights = np.empty(len(rows))
            for i, k in enumerate(rows):
                model_a, seed_a, model_b, seed_b = units[k]
                lm = 1.0 if line_a == line_b else lm_counts[line_a].get(model_a, 0) * lm_counts[line_b].get(model_b, 0)
                weights[i] = lm * counts[model_a].get(seed_a, 0) * counts[model_b].get(seed_b, 0)
            if weights.sum() == 0:  # e.g. one model on both sides drawn as one SAE seed only: skip this pair
                continue
            picks = draws[rows, rng.integers(0, draws.shape[1], size=len(rows))]
            means.append(np.sum(weights * picks) / weights.sum())
        statistics[s] = np.mean(means) if means else np.nan
    return Correlation(point, *percentile_interval(statistics, level), len(units))


def rank_correlation(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman's rank correlation of x and y, (n,) each; NaN (not a warning) when either is constant
    or there are fewer than three points."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if len(x) < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return float("nan")
    return float(stats.spearmanr(x, y).statistic)


def residualise(values: np.ndarray, controls: np.ndarray) -> np.ndarray:
    """``values`` (n,) minus its least-squares fit on ``controls`` (n, k) and an intercept."""
    design = np.column_stack([np.ones(len(values)), controls])
    coefficients, *_ = np.linalg.lstsq(design, values, rcond=None)
    return values - design @ coefficients


def partial_correlation(x: np.ndarray, y: np.ndarray, controls: np.ndarray, rank: bool = False) -> float:
    """Pearson (or with ``rank``, Spearman) correlation of x and y, (n,) each, after removing from
    both their linear dependence on ``controls`` (n, k)."""
    x, y, controls = (np.asarray(v, dtype=np.float64) for v in (x, y, controls))
    controls = controls.reshape(len(x), -1)
    if rank:
        x, y = stats.rankdata(x), stats.rankdata(y)
        controls = np.column_stack([stats.rankdata(c) for c in controls.T])
    return float(np.corrcoef(residualise(x, controls), residualise(y, controls))[0, 1])


def bootstrap_mean(values: np.ndarray, samples: int, seed: int = 0, batch: int = 128) -> np.ndarray:
    """The mean of ``values`` (n,), NaN entries skipped, on ``samples`` resamples: (samples,)."""
    values = np.asarray(values, dtype=np.float64)
    rng = np.random.default_rng(seed)
    draws = [np.nanmean(values[rng.integers(0, len(values), size=(min(batch, samples - s), len(values)))], axis=1) for s in range(0, samples, batch)]
    return np.concatenate(draws)


def bootstrap_partial_r(x: np.ndarray, y: np.ndarray, controls: np.ndarray, samples: int, seed: int = 0, batch: int = 64) -> np.ndarray:
    """:func:`partial_correlation` (Pearson) of x and y (n,) given ``controls`` (n, k) on ``samples``
    resamples of the points: (samples,). Each resample residualises on its own least-squares fit."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    design = np.column_stack([np.ones(len(x)), np.asarray(controls, dtype=np.float64).reshape(len(x), -1)])
    rng = np.random.default_rng(seed)
    draws = []
    for start in range(0, samples, batch):
        index = rng.integers(0, len(x), size=(min(batch, samples - start), len(x)))
        d, xs, ys = design[index], x[index], y[index]
        inverse = np.linalg.pinv(np.einsum("bnk,bnl->bkl", d, d))  # a resample with a constant control stays finite
        with np.errstate(invalid="ignore", divide="ignore"):
            residuals = [v - np.einsum("bnk,bk->bn", d, np.einsum("bkl,bl->bk", inverse, np.einsum("bnk,bn->bk", d, v))) for v in (xs, ys)]
            rx, ry = (r - r.mean(axis=1, keepdims=True) for r in residuals)
            draws.append((rx * ry).sum(axis=1) / np.sqrt((rx**2).sum(axis=1) * (ry**2).sum(axis=1)))
    return np.concatenate(draws)


# --------------------------------------------------------------------------------------------
# The saturating form against simpler and freer shapes, by AIC on the same unweighted residuals.

#: The shapes compared, with their parameter counts (the isotonic fit's is its number of distinct levels).
SHAPES = ("original saturating", "relaxed saturating", "linear", "isotonic")
#: The relaxed saturating fit's bounds: a and c free over wide ranges, b positive.
RELAXED_BOUNDS = ((0.0, 1e-3, -1.0), (2.0, 100.0, 1.0))


def aic(residual: np.ndarray, k: int) -> float:
    """n ln(RSS/n) + 2k of least-squares residuals (n,) with k fitted parameters."""
    n = len(residual)
    return float(n * np.log(max(float(residual @ residual), 1e-300) / n) + 2 * k)


def shape_comparison(x: np.ndarray, y: np.ndarray, original: SaturatingFit) -> dict[str, float]:
    """AIC of four shapes of y against x (n,): the original's saturating fit as it ended (its bounds
    and weights), the same curve by unweighted least squares with relaxed bounds (c may be negative,
    a may be below 0.5), a straight line, and the isotonic (monotone non-decreasing) fit; ``best``
    names the lowest."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    out: dict[str, float] = {}
    out["original saturating"] = aic(y - original(x), 3) if original.converged else float("nan")
    try:
        with np.errstate(over="ignore"):
            values, _ = optimize.curve_fit(saturating, x, y, p0=(0.5, 5.0, 0.0), bounds=RELAXED_BOUNDS, maxfev=ORIGINAL_MAXFEV)
        out["relaxed saturating"] = aic(y - saturating(x, *values), 3)
    except (RuntimeError, ValueError, np.linalg.LinAlgError):
        out["relaxed saturating"] = float("nan")
    slope, intercept = np.polyfit(x, y, 1)
    out["linear"] = aic(y - (slope * x + intercept), 2)
    order = np.argsort(x, kind="stable")
    monotone = np.empty_like(y)
    monotone[order] = optimize.isotonic_regression(y[order]).x
    out["isotonic"] = aic(y - monotone, len(np.unique(np.round(monotone, 12))))
    finite = {name: value for name, value in out.items() if np.isfinite(value)}
    return out | {"best": min(finite, key=finite.get) if finite else ""}
