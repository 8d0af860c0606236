"""Matching the latents of two SAEs: one-to-one (Hungarian) and mutual nearest neighbours, beside
the many-to-one maximum correlation that the talk's universality uses.

A latent's maximum correlation lets many latents of one SAE claim the same partner; a one-to-one
assignment (maximum total correlation, ``scipy.optimize.linear_sum_assignment``, as Paulo & Belrose
match SAE latents across seeds) and mutual nearest neighbours (each is the other's best match) do not.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment


@dataclass(frozen=True)
class OneToOne:
    """A one-to-one assignment between the alive latents of A and B."""

    rows: np.ndarray  # (k,) latents of A
    cols: np.ndarray  # (k,) their partners in B
    values: np.ndarray  # (k,) the correlation of each assigned pair

    def partner_correlation(self, n_a: int) -> np.ndarray:
        """(n_a,) each latent of A's correlation with its assigned partner; NaN where it has none."""
        out = np.full(n_a, np.nan)
        out[self.rows] = self.values
        return out

    def partner_index(self, n_a: int) -> np.ndarray:
        """(n_a,) each latent of A's assigned partner in B; −1 where it has none."""
        out = np.full(n_a, -1, dtype=np.int64)
        out[self.rows] = self.cols
        return out


def one_to_one(matrix: np.ndarray) -> OneToOne:
    """Maximum-total-correlation assignment on ``matrix`` (n_A, n_B) of correlations, NaN for dead
    latents (their rows and columns are left out). min(alive A, alive B) pairs are assigned."""
    alive_rows = np.flatnonzero(~np.all(np.isnan(matrix), axis=1))
    alive_cols = np.flatnonzero(~np.all(np.isnan(matrix), axis=0))
    sub = np.nan_to_num(matrix[np.ix_(alive_rows, alive_cols)].astype(np.float64), nan=-1.0)
    rows, cols = linear_sum_assignment(sub, maximize=True)
    return OneToOne(alive_rows[rows], alive_cols[cols], sub[rows, cols])


def mutual_nearest(a_to_b_index: np.ndarray, b_to_a_index: np.ndarray) -> np.ndarray:
    """(n_A,) bool: latent i of A whose best match j in B has i as its own best match (−1: dead)."""
    a_to_b_index = np.asarray(a_to_b_index)
    valid = a_to_b_index >= 0
    out = np.zeros(len(a_to_b_index), dtype=bool)
    out[valid] = np.asarray(b_to_a_index)[a_to_b_index[valid]] == np.flatnonzero(valid)
    return out


def distinct_partners(a_to_b: np.ndarray, a_to_b_index: np.ndarray, threshold: float) -> int:
    """How many different latents of B are the best match of some latent of A at correlation ≥ threshold."""
    hit = np.nan_to_num(a_to_b, nan=-np.inf) >= threshold
    return int(len(np.unique(np.asarray(a_to_b_index)[hit])))
