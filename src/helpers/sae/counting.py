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
