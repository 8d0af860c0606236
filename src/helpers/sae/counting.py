"""Counting features with a dictionary-size sweep (Gao et al. 2024): the number of latents n* an
SAE needs to bring an error (normalised MSE, or the spliced loss's rise over the clean model's) down
to a target, read from SAEs of several sizes trained on one site.

Between two measured sizes the error is taken to fall as a power of n (straight in log n against
log error), the form the sweeps follow; outside the sweep nothing is extrapolated: a target the
largest SAE does not reach is "beyond the sweep", one the smallest already meets is "at or below
the smallest size".
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from helpers.theory.scaling import slope_with_interval

INTERPOLATED, BEYOND, AT_SMALLEST = "interpolated", "beyond the sweep", "at or below the smallest size"


@dataclass(frozen=True)
class LatentsNeeded:
    """n* for one sweep: ``value`` is the interpolated size, the largest size (a lower bound) when
    the target lies beyond the sweep, the smallest (an upper bound) when the smallest meets it."""

    value: float
    status: str  # INTERPOLATED, BEYOND or AT_SMALLEST

    @property
    def label(self) -> str:
        if self.status == INTERPOLATED:
            return f"{self.value:,.0f}"
        return f"> {self.value:,.0f} (beyond the sweep)" if self.status == BEYOND else f"≤ {self.value:,.0f}"


def latents_needed(sizes: ArrayLike, errors: ArrayLike, target: float) -> LatentsNeeded:
    """n* at which the error first falls to ``target``, for dictionary sizes (k,) and their errors (k,)
    (errors > 0; the sweep need not be monotone: the first crossing from the smallest size up counts)."""
    n, e = np.asarray(sizes, dtype=float), np.asarray(errors, dtype=float)
    if n.ndim != 1 or n.size < 2 or n.size != e.size:
        raise ValueError(f"parameters 'sizes' and 'errors': two or more sizes, one error each, got {n.size} and {e.size}")
    if np.any(n <= 0) or len(np.unique(n)) != n.size:
        raise ValueError("parameter 'sizes': distinct dictionary sizes > 0")
    if np.any(~np.isfinite(e)) or np.any(e <= 0):
        raise ValueError("parameter 'errors': finite errors > 0 (a power law in n is interpolated in their log)")
    if not target > 0:
        raise ValueError(f"parameter 'target': an error > 0, got {target}")
    order = np.argsort(n)
    n, e = n[order], e[order]
    if e[0] <= target:
        return LatentsNeeded(float(n[0]), AT_SMALLEST)
    for i in range(1, n.size):
        if e[i] <= target:
            share = (np.log(e[i - 1]) - np.log(target)) / (np.log(e[i - 1]) - np.log(e[i]))
            return LatentsNeeded(float(np.exp(np.log(n[i - 1]) + share * (np.log(n[i]) - np.log(n[i - 1])))), INTERPOLATED)
    return LatentsNeeded(float(n[-1]), BEYOND)


@dataclass(frozen=True)
class NeededRange:
    """n* of a set of sweeps of one subject (its language-model seeds) with the SAE-seed band: the
    central value from the mean curve, and the smallest and largest n* over every sweep with its
    errors moved down and up by the band. ``low`` is 0 when some curve meets the target at the
    smallest size (n* is then only bounded above) and ``high`` is infinite when some curve does not
    reach it (n* is then only bounded below)."""

    central: LatentsNeeded
    low: float
    high: float


def needed_range(sizes: ArrayLike, sweeps: ArrayLike, target: float, band: float) -> NeededRange:
    """:class:`NeededRange` for errors ``sweeps`` (seeds, sizes) at ``sizes`` (sizes,), with the
    seed noise ``band`` ≥ 0 a spread of log error (each curve is read at e·exp(±band))."""
    curves = np.atleast_2d(np.asarray(sweeps, dtype=float))
    if not band >= 0:
        raise ValueError(f"parameter 'band': a spread of log error ≥ 0, got {band}")
    central = latents_needed(sizes, curves.mean(axis=0), target)
    lows, highs = [], []
    for curve in curves:
        low = latents_needed(sizes, curve * np.exp(-band), target)  # the lower curve needs the fewest latents
        high = latents_needed(sizes, curve * np.exp(band), target)
        lows.append(0.0 if low.status == AT_SMALLEST else low.value)  # a bound from below: the largest size when beyond
        highs.append(np.inf if high.status == BEYOND else high.value)  # a bound from above: the smallest size when met there
    return NeededRange(central, float(min(lows)), float(max(highs)))


def compare_ranges(narrow: tuple[float, float], wide: tuple[float, float]) -> str:
    """ "rises" when the wide subject's range lies wholly above the narrow one's, "falls" when wholly
    below, "inconclusive" when they overlap (ranges as (low, high))."""
    if wide[0] > narrow[1]:
        return "rises"
    if wide[1] < narrow[0]:
        return "falls"
    return "inconclusive"


@dataclass(frozen=True)
class ErrorLaw:
    """error ≈ C·n^(−exponent): least squares of log error on log n, with the slope's 95% interval
    (as an exponent: [low, high]) and R²."""

    exponent: float
    low: float
    high: float
    r_squared: float
    points: int


def error_law(sizes: ArrayLike, errors: ArrayLike) -> ErrorLaw:
    """:class:`ErrorLaw` over every (size, error) point (k,), seeds included as separate points."""
    x, y = np.log(np.asarray(sizes, dtype=float)), np.log(np.asarray(errors, dtype=float))
    if x.size < 2 or len(np.unique(x)) < 2 or x.size != y.size or not np.isfinite(y).all():
        raise ValueError("parameters 'sizes' and 'errors': two or more different sizes, one finite error > 0 each")
    slope = slope_with_interval(x, y)
    residual = y - y.mean() - slope.value * (x - x.mean())
    spread = (y - y.mean()) @ (y - y.mean())
    return ErrorLaw(-slope.value, -slope.high, -slope.low, float(1 - residual @ residual / spread) if spread > 0 else float("nan"), int(x.size))
