"""The additive width + depth law: planted parameters recovered, held exponents, leave-one-shape-out
predictions, and the valley of equal N against its closed form at α_m = α_ℓ = 1."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import optimize

from helpers.theory.width_depth import WidthDepthFit, fit_width_depth, leave_one_out, shape_at, valley

PLANTED = {"c_m": 30.0, "alpha_m": 0.9, "c_l": 2.0, "alpha_l": 1.2, "l0": 3.5}


def planted_grid(noise: float = 0.0, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    widths, depths = np.meshgrid([32, 64, 128, 256], [2, 4, 8, 16])
    m, ell = widths.ravel().astype(float), depths.ravel().astype(float)
    y = PLANTED["c_m"] * m ** -PLANTED["alpha_m"] + PLANTED["c_l"] * ell ** -PLANTED["alpha_l"] + PLANTED["l0"]
    return m, ell, y + noise * np.random.default_rng(seed).standard_normal(y.size)


def test_exact_points_give_back_the_planted_law():
    fit = fit_width_depth(*planted_grid())
    for name, value in PLANTED.items():
        assert getattr(fit, name) == pytest.approx(value, rel=1e-5)
    assert fit.r_squared == pytest.approx(1.0) and fit.k == 5 and fit.n == 16


def test_a_held_exponent_is_kept_and_not_counted():
    m, ell, y = planted_grid(noise=1e-3)
    held = fit_width_depth(m, ell, y, alpha_l=1.0)
    assert held.alpha_l == 1.0 and held.fixed == ("alpha_l",) and held.k == 4
    free = fit_width_depth(m, ell, y)
    assert free.rss <= held.rss  # the held law is a special case of the free one
    assert free.alpha_m == pytest.approx(PLANTED["alpha_m"], abs=0.05)


def test_leave_one_shape_out_predicts_exact_points_exactly():
    m, ell, y = planted_grid()
    shapes = [f"{int(a)}x{int(b)}" for a, b in zip(m, ell)]
    predicted = leave_one_out(m, ell, y, shapes)
    np.testing.assert_allclose(predicted, y, rtol=1e-5)


def test_the_valley_matches_the_closed_form_at_unit_exponents():
    """α_m = α_ℓ = 1, L0 = 0: along N = 12ℓm², L ∝ (2 + x)/(3x^⅓) with x = (m/ℓ)/r*, r* = c_m/(2c_ℓ)."""
    fit = WidthDepthFit(c_m=333.0, alpha_m=1.0, c_l=5.1, alpha_l=1.0, l0=0.0, rss=0.0, r_squared=1.0, n=0)
    best = 333.0 / (2 * 5.1)
    for n_params in (1e6, 1e9):
        found = valley(fit, n_params, tolerance=0.05)
        assert found.best_ratio == pytest.approx(best, rel=1e-5)
        rise = lambda x: (2 + x) / (3 * x ** (1 / 3)) - 1.05  # noqa: E731
        assert found.low_ratio == pytest.approx(best * optimize.brentq(rise, 1e-3, 1), rel=1e-6)
        assert found.high_ratio == pytest.approx(best * optimize.brentq(rise, 1, 1e3), rel=1e-6)
        widths, depths = shape_at(n_params, found.best_ratio)
        assert 12 * depths * widths**2 == pytest.approx(n_params) and found.best_loss == pytest.approx(fit.predict(widths, depths))


def test_an_offset_widens_the_floor():
    bare = WidthDepthFit(c_m=333.0, alpha_m=1.0, c_l=5.1, alpha_l=1.0, l0=0.0, rss=0.0, r_squared=1.0, n=0)
    offset = WidthDepthFit(c_m=333.0, alpha_m=1.0, c_l=5.1, alpha_l=1.0, l0=2.0, rss=0.0, r_squared=1.0, n=0)
    a, b = valley(bare, 1e8), valley(offset, 1e8)
    assert b.best_ratio == pytest.approx(a.best_ratio, rel=1e-5) and b.low_ratio < a.low_ratio and b.high_ratio > a.high_ratio


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"widths": [32, -64, 128], "depths": [2, 4, 8], "losses": [4, 3, 2]}, "every width and depth must be > 0"),
        ({"widths": [32, 32, 32], "depths": [2, 4, 8], "losses": [4, 3, 2]}, "two or more distinct widths"),
        ({"widths": [32, 64], "depths": [2, 4, 8], "losses": [4, 3, 2]}, "one value per model"),
        ({"widths": [32, 64, 128], "depths": [2, 4, 8], "losses": [4, 3, 2]}, "at least 5 models"),
        ({"widths": [32, 64, 128, 256], "depths": [2, 4, 8, 8], "losses": [4, 3, 2, 1], "alpha_l": 9.0}, "parameter 'alpha_l'"),
    ],
)
def test_bad_input_names_the_parameter(arguments, message):
    with pytest.raises(ValueError, match=message):
        fit_width_depth(**arguments)


def test_bad_valley_arguments_name_the_parameter():
    fit = WidthDepthFit(c_m=1.0, alpha_m=1.0, c_l=1.0, alpha_l=1.0, l0=0.0, rss=0.0, r_squared=1.0, n=0)
    with pytest.raises(ValueError, match="parameter 'n_params'"):
        valley(fit, -1.0)
    with pytest.raises(ValueError, match="parameter 'tolerance'"):
        valley(fit, 1e6, tolerance=1.5)
