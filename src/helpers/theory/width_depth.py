"""Width and depth as two additive terms of the loss (Liu, Kangaslahti, Liu & Gore 2026).

    L(m, ℓ) = c_m / m^α_m + c_ℓ / ℓ^α_ℓ + L0

at one token budget: the width term is interference between superposed features (∝ 1/m when
superposition is strong), the depth term the averaging of many similar layers (∝ 1/ℓ). At a fixed
parameter count N = 12·ℓ·m² the two terms trade against each other, so the loss has a valley in the
aspect ratio m/ℓ whose floor is flat: two shapes of one N have nearly equal loss only near it (the
premise of the theory note). With α_m = α_ℓ = 1 the floor lies at m/ℓ = c_m/(2·c_ℓ) for every N.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy import optimize

from helpers.theory.scaling import least_squares_aic

#: Bounds on the fitted exponents: a term that decays slower than 1/x^0.05 or faster than 1/x^4 is
#: not one the data can tell apart from a constant or from zero.
EXPONENT_BOUNDS = (0.05, 4.0)


@dataclass(frozen=True)
class WidthDepthFit:
    """The additive law fitted to (m, ℓ, L) points by least squares on L. An exponent held fixed
    (``fixed`` names it) is not counted among the ``k`` fitted parameters."""

    c_m: float
    alpha_m: float
    c_l: float
    alpha_l: float
    l0: float
    rss: float
    r_squared: float
    n: int
    fixed: tuple[str, ...] = ()

    @property
    def k(self) -> int:
        return 5 - len(self.fixed)

    @property
    def aic(self) -> float:
        return least_squares_aic(self.rss, self.n, self.k)

    def width_term(self, widths: ArrayLike) -> np.ndarray:
        return self.c_m * np.asarray(widths, dtype=float) ** -self.alpha_m

    def depth_term(self, depths: ArrayLike) -> np.ndarray:
        return self.c_l * np.asarray(depths, dtype=float) ** -self.alpha_l

    def predict(self, widths: ArrayLike, depths: ArrayLike) -> np.ndarray:
        """L at widths (k,) and depths (k,)."""
        return self.width_term(widths) + self.depth_term(depths) + self.l0


def _checked(widths: ArrayLike, depths: ArrayLike, losses: ArrayLike) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    m, ell, y = (np.asarray(v, dtype=float).ravel() for v in (widths, depths, losses))
    if not m.size == ell.size == y.size:
        raise ValueError(f"parameters 'widths', 'depths', 'losses': one value per model each, got {m.size}, {ell.size} and {y.size}")
    if np.any(m <= 0) or np.any(ell <= 0):
        raise ValueError("parameters 'widths' and 'depths': every width and depth must be > 0")
    if len(np.unique(m)) < 2 or len(np.unique(ell)) < 2:
        raise ValueError(
            "parameters 'widths' and 'depths': two or more distinct widths and two or more distinct depths (one term is not pinned otherwise)"
        )
    return m, ell, y


def fit_width_depth(
    widths: ArrayLike, depths: ArrayLike, losses: ArrayLike, alpha_l: float | None = None, alpha_m: float | None = None
) -> WidthDepthFit:
    """Fit L = c_m/m^α_m + c_ℓ/ℓ^α_ℓ + L0 to models of widths (n,), depths (n,) and losses (n,).

    An exponent given (``alpha_l``, ``alpha_m``) is held at that value; each free one lies within
    :data:`EXPONENT_BOUNDS` and c_m, c_ℓ ≥ 0. The fit is started from every pair of exponents on a
    small grid (the law is linear in c_m, c_ℓ and L0 once the exponents are set) and the best kept.
    """
    m, ell, y = _checked(widths, depths, losses)
    for name, value in (("alpha_l", alpha_l), ("alpha_m", alpha_m)):
        if value is not None and not EXPONENT_BOUNDS[0] <= value <= EXPONENT_BOUNDS[1]:
            raise ValueError(f"parameter {name!r}: between {EXPONENT_BOUNDS[0]} and {EXPONENT_BOUNDS[1]}, or None to fit it, got {value}")
    fixed = tuple(name for name, value in (("alpha_m", alpha_m), ("alpha_l", alpha_l)) if value is not None)
    free = 5 - len(fixed)
    if y.size < free:
        raise ValueError(f"parameter 'losses': at least {free} models to fit {free} parameters, got {y.size}")

    def unpack(theta: np.ndarray) -> tuple[float, float, float, float, float]:
        values = iter(theta)
        c_m = next(values)
        a_m = alpha_m if alpha_m is not None else next(values)
        c_l = next(values)
        a_l = alpha_l if alpha_l is not None else next(values)
        return c_m, a_m, c_l, a_l, next(values)

    def residual(theta: np.ndarray) -> np.ndarray:
        c_m, a_m, c_l, a_l, l0 = unpack(theta)
        return c_m * m**-a_m + c_l * ell**-a_l + l0 - y

    low, high = EXPONENT_BOUNDS
    lower = [0.0] + ([low] if alpha_m is None else []) + [0.0] + ([low] if alpha_l is None else []) + [-np.inf]
    upper = [np.inf] + ([high] if alpha_m is None else []) + [np.inf] + ([high] if alpha_l is None else []) + [np.inf]
    best = None
    for start_m in [alpha_m] if alpha_m is not None else (0.5, 1.0, 2.0):
        for start_l in [alpha_l] if alpha_l is not None else (0.5, 1.0, 2.0):
            design = np.column_stack([m**-start_m, ell**-start_l, np.ones_like(m)])
            (c_m, c_l, l0), *_ = np.linalg.lstsq(design, y, rcond=None)
            theta = [max(c_m, 1e-9)] + ([start_m] if alpha_m is None else []) + [max(c_l, 1e-9)] + ([start_l] if alpha_l is None else []) + [l0]
            solution = optimize.least_squares(residual, np.array(theta), bounds=(lower, upper), max_nfev=20_000)
            if best is None or solution.cost < best.cost:
                best = solution
    c_m, a_m, c_l, a_l, l0 = unpack(best.x)
    rss = float(best.fun @ best.fun)
    total = float(((y - y.mean()) ** 2).sum())
    return WidthDepthFit(
        float(c_m), float(a_m), float(c_l), float(a_l), float(l0), rss, float(1 - rss / total) if total > 0 else float("nan"), int(y.size), fixed
    )


def leave_one_out(widths: ArrayLike, depths: ArrayLike, losses: ArrayLike, groups: ArrayLike, **fixed: float) -> np.ndarray:
    """For each point, the law's prediction when every point of its group (one shape, all its seeds:
    groups (n,)) is left out of the fit: (n,). NaN where the rest cannot pin the law."""
    m, ell, y = (np.asarray(v, dtype=float).ravel() for v in (widths, depths, losses))
    labels = np.asarray(groups).ravel()
    if labels.size != y.size:
        raise ValueError(f"parameter 'groups': one label per model, got {labels.size} for {y.size} models")
    predicted = np.full(y.size, np.nan)
    for label in np.unique(labels):
        out = labels == label
        try:
            fit = fit_width_depth(m[~out], ell[~out], y[~out], **fixed)
        except ValueError:
            continue
        predicted[out] = fit.predict(m[out], ell[out])
    return predicted


@dataclass(frozen=True)
class Valley:
    """The loss along the shapes of one parameter count N = 12·ℓ·m², as a function of m/ℓ."""

    n_params: float
    best_ratio: float  # m/ℓ at the lowest loss
    best_loss: float
    low_ratio: float  # the flat floor: every m/ℓ in [low_ratio, high_ratio] is within the tolerance
    high_ratio: float
    tolerance: float  # a relative rise of the loss above best_loss


def shape_at(n_params: float, ratio: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Width and depth (continuous) of aspect ratio m/ℓ = ``ratio`` at N = 12·ℓ·m²: m = (N·r/12)^⅓."""
    r = np.asarray(ratio, dtype=float)
    widths = (n_params * r / 12.0) ** (1.0 / 3.0)
    return widths, widths / r


def valley(fit: WidthDepthFit, n_params: float, tolerance: float = 0.05, ratios: tuple[float, float] = (0.1, 1e5)) -> Valley:
    """The best aspect ratio at ``n_params`` and the range of m/ℓ whose predicted loss is within
    ``tolerance`` (relative) of the best, searched over ``ratios`` (log-spaced, then refined)."""
    if n_params <= 0:
        raise ValueError(f"parameter 'n_params': > 0, got {n_params}")
    if not 0 < tolerance < 1:
        raise ValueError(f"parameter 'tolerance': a relative rise between 0 and 1, got {tolerance}")

    def loss(log_r: float) -> float:
        widths, depths = shape_at(n_params, np.exp(log_r))
        return float(fit.predict(widths, depths))

    grid = np.linspace(np.log(ratios[0]), np.log(ratios[1]), 2001)
    values = np.array([loss(x) for x in grid])
    i = int(np.argmin(values))
    bracket = (grid[max(i - 1, 0)], grid[min(i + 1, len(grid) - 1)])
    best = optimize.minimize_scalar(loss, bounds=bracket, method="bounded", options={"xatol": 1e-10})
    best_loss = float(best.fun)
    ceiling = best_loss * (1 + tolerance)

    def edge(inside: float, outside: float) -> float:
        if loss(outside) <= ceiling:
            return float(np.exp(outside))
        return float(np.exp(optimize.brentq(lambda x: loss(x) - ceiling, inside, outside, xtol=1e-12)))

    return Valley(float(n_params), float(np.exp(best.x)), best_loss, edge(best.x, grid[0]), edge(best.x, grid[-1]), float(tolerance))
