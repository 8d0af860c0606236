"""The theory note's argument as arithmetic: shapes at equal N, the compressed-sensing bound of
superposition, the speculative fixes, and the cylinder analogy.

Notation (Katta 2024): a model has ``n_layer`` layers of ``d_model`` neurons; F features are
learned in total, F / n_layer per layer, so a layer holds F / (n_layer · d_model) features per
neuron. Sparsity S is the probability that a feature is zero; its density is 1 − S.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import brentq

from helpers.theory.scaling import kaplan_parameter_count

ArrayLike = float | np.ndarray

#: The bound's degree of superposition is smallest (e) at density 1/e; the sparse branch starts there.
MIN_DEGREE = math.e
SPARSE_BRANCH_START = 1.0 - 1.0 / math.e


@dataclass(frozen=True)
class Shape:
    """A transformer's shape for the argument: layers and neurons per layer (real-valued)."""

    n_layer: float
    d_model: float

    @property
    def n_params(self) -> float:
        return float(kaplan_parameter_count(self.n_layer, self.d_model))

    @property
    def total_neurons(self) -> float:
        return self.n_layer * self.d_model

    @property
    def aspect_ratio(self) -> float:
        return self.d_model / self.n_layer


def equal_parameter_partner(shape: Shape, width_factor: float) -> Shape:
    """The shape with ``width_factor`` times the width and the same N: layers shrink by its square."""
    if width_factor <= 0:
        raise ValueError(f"width_factor must be > 0, got {width_factor}")
    return Shape(shape.n_layer / width_factor**2, shape.d_model * width_factor)


def compare_shapes(a: Shape, b: Shape, n_features: float) -> pd.DataFrame:
    """The note's Model A / Model B table for any two shapes and a feature count F.

    Rows: parameters, neurons per layer, layers, total neurons, aspect ratio, features per layer
    and features per neuron; columns: Model A, Model B and B / A.
    """
    if n_features <= 0:
        raise ValueError(f"n_features must be > 0, got {n_features}")

    def column(s: Shape) -> list[float]:
        return [
            s.n_params,
            s.d_model,
            s.n_layer,
            s.total_neurons,
            s.aspect_ratio,
            n_features / s.n_layer,
            n_features / s.total_neurons,
        ]

    rows = ["parameters N", "neurons per layer", "layers", "total neurons", "aspect ratio", "features per layer", "features per neuron"]
    table = pd.DataFrame({"Model A": column(a), "Model B": column(b)}, index=rows)
    table["B / A"] = table["Model B"] / table["Model A"]
    return table


# --------------------------------------------------------------------------------------------
# The compressed-sensing bound (Elhage et al. 2022, quoting Ba et al. 2010):
#     m = Ω(−n (1 − S) log(1 − S))   ⇒   degree of superposition n/m = −1 / ((1 − S) log(1 − S)).


def _check_sparsity(sparsity: ArrayLike, name: str = "sparsity") -> np.ndarray:
    s = np.asarray(sparsity, dtype=float)
    if np.any(~np.isfinite(s)) or np.any(s <= 0) or np.any(s >= 1):
        raise ValueError(f"{name} must lie in the open interval (0, 1), got {sparsity!r}")
    return s


def degree_of_superposition(sparsity: ArrayLike) -> ArrayLike:
    """Features per dimension the bound allows at sparsity S: −1 / ((1 − S) ln(1 − S)).

    It is at least e (reached at S = 1 − 1/e) and grows without bound as S → 1.
    """
    density = 1.0 - _check_sparsity(sparsity)
    return -1.0 / (density * np.log(density))


def required_sparsity(degree: ArrayLike) -> ArrayLike:
    """Inverse of :func:`degree_of_superposition` on its sparse branch S ≥ 1 − 1/e (degree ≥ e).

    With x = ln(1 − S) the bound reads x·eˣ = −1/degree (whose root is x = W₋₁(−1/degree), the
    lower branch of Lambert W). The root is found numerically on x ∈ [−745, −1], where x·eˣ is
    monotone; near degree = e the curve is flat, so S is accurate to about 1e-8 there.
    """
    d = np.asarray(degree, dtype=float)
    if np.any(~np.isfinite(d)) or np.any(d < MIN_DEGREE):
        raise ValueError(f"degree must be at least e ≈ {MIN_DEGREE:.4f} (the bound's minimum, at S = 1 − 1/e), got {degree!r}")

    def solve(value: float) -> float:
        def gap(x: float) -> float:
            return x * math.exp(x) + 1.0 / value

        return -1.0 if gap(-1.0) >= 0 else brentq(gap, -745.0, -1.0, xtol=1e-14, rtol=4 * np.finfo(float).eps)

    log_density = np.vectorize(solve, otypes=[float])(d)
    return 1.0 - np.exp(log_density)


def partner_sparsity(sparsity_a: ArrayLike, degree_factor: ArrayLike) -> ArrayLike:
    """Sparsity that a model packing ``degree_factor`` times more features per neuron needs.

    ``sparsity_a`` must be on the bound's sparse branch, [1 − 1/e, 1).
    """
    s = _check_sparsity(sparsity_a, "sparsity_a")
    if np.any(s < SPARSE_BRANCH_START - 1e-12):
        raise ValueError(
            f"sparsity_a must lie in [1 − 1/e, 1) = [{SPARSE_BRANCH_START:.4f}, 1), where the bound grows with sparsity; got {sparsity_a!r}"
        )
    factor = np.asarray(degree_factor, dtype=float)
    if np.any(factor < 1):
        raise ValueError(f"degree_factor must be ≥ 1, got {degree_factor!r}")
    return required_sparsity(np.maximum(factor * degree_of_superposition(s), MIN_DEGREE))


# --------------------------------------------------------------------------------------------
# The note's speculative fixes.


def capacity_ratio(width_factor: ArrayLike, width_exponent: ArrayLike, depth_exponent: ArrayLike = 1.0) -> ArrayLike:
    """Capacity of Model B over Model A when a model holds ∝ n_layer^a · d_model^b features.

    B has k times the width and 1/k² the layers, so the ratio is k^(b − 2a). Linear
    superposition (a = b = 1) gives 1/k; the note's square term n = m²·f(1 − S) (b = 2, a = 1)
    gives 1 for every k.
    """
    k = np.asarray(width_factor, dtype=float)
    return k ** (np.asarray(width_exponent, dtype=float) - 2.0 * np.asarray(depth_exponent, dtype=float))


def matching_width_exponent(depth_exponent: ArrayLike = 1.0) -> ArrayLike:
    """Width exponent b that makes capacity invariant along equal-N shapes: b = 2a."""
    return 2.0 * np.asarray(depth_exponent, dtype=float)


# --------------------------------------------------------------------------------------------
# The cylinder analogy: radius d_model, height n_layer.


def cylinder(stretch: ArrayLike, radius: float = 1.0, height: float = 1.0) -> pd.DataFrame:
    """Stretch a cylinder at constant volume (radius × s, height / s²).

    Volume π r² h plays the parameters, lateral surface 2π r h the neurons: the volume stays, the
    surface scales as 1/s and the aspect ratio r/h as s³.
    """
    s = np.atleast_1d(np.asarray(stretch, dtype=float))
    r, h = radius * s, height / s**2
    return pd.DataFrame(
        {
            "stretch": s,
            "radius": r,
            "height": h,
            "volume": math.pi * r**2 * h,
            "surface": 2 * math.pi * r * h,
            "aspect_ratio": r / h,
        }
    )


def sticking_null_share(points: np.ndarray, low: float, high: float, tolerance: float) -> float:
    """Share of values uniform on [low, high] that lie within ``tolerance`` of some sticking point:
    the measure of the union of the intervals [p − tol, p + tol], clipped to [low, high], over its length."""
    intervals = sorted((max(low, p - tolerance), min(high, p + tolerance)) for p in np.asarray(points, dtype=float))
    covered, end = 0.0, low
    for start, stop in intervals:
        start = max(start, end)
        if stop > start:
            covered += stop - start
            end = stop
    return covered / (high - low)
