"""The saturating fit, its density weights and the bootstrap interval, against known answers."""

import numpy as np
import pytest

from helpers.importance import fit_saturating, kde_density, pearson_with_ci, saturating


@pytest.fixture(scope="module")
def talk_curve():
    """Points on the talk's headline curve y = 0.95(1 − e^(−9.28(x − 0.10))) with small noise."""
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.beta(1.2, 6, 1500), rng.uniform(0, 1, 500)])  # a dense cloud at low importance
    return x, saturating(x, 0.95, 9.28, 0.10) + rng.normal(0, 0.02, len(x))


@pytest.mark.parametrize("weighting", ["1/KDE", "none"])
def test_fit_recovers_the_talk_curve(talk_curve, weighting):
    x, y = talk_curve
    fit = fit_saturating(x, y, weighting)
    assert fit.a == pytest.approx(0.95, abs=0.02) and fit.b == pytest.approx(9.28, rel=0.1)
    assert fit.c == pytest.approx(0.10, abs=0.01) and fit.r_squared > 0.95
    assert fit.weighting == weighting and not fit.a_fixed


def test_fit_with_a_fixed_and_bounds_reported(talk_curve):
    x, y = talk_curve
    fixed = fit_saturating(x, y, "1/KDE", fix_a=1.0)
    assert fixed.a == 1.0 and fixed.a_fixed and fixed.at_bound == ""
    flat = fit_saturating(x, np.full_like(x, 0.3) + np.random.default_rng(1).normal(0, 0.01, len(x)), "none")
    assert flat.at_bound != ""  # a flat cloud pushes c to its lower bound 0.1 and b to a bound
    with pytest.raises(ValueError, match="weighting"):
        fit_saturating(x, y, "kde")


def test_kde_density_matches_the_gaussian_kernel_formula():
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=300), rng.normal(size=300) * 0.5 + 0.3 * rng.normal(size=300)
    points = np.vstack([x, y])
    n = points.shape[1]
    bandwidth = np.cov(points) * n ** (-2 / 6)  # Scott's factor n^(−1/(d+4)), squared, for d = 2
    inverse = np.linalg.inv(bandwidth)
    diff = points[:, :, None] - points[:, None, :]
    exponent = -0.5 * np.einsum("ikl,ij,jkl->kl", diff, inverse, diff)
    brute = np.exp(exponent).sum(axis=1) / (n * 2 * np.pi * np.sqrt(np.linalg.det(bandwidth)))
    np.testing.assert_allclose(kde_density(x, y), brute, rtol=1e-10)
    sub = kde_density(x, y, max_centers=100)  # the subsampled estimate is close on average
    assert np.corrcoef(sub, brute)[0, 1] > 0.9


def test_bootstrap_interval_covers_a_known_correlation():
    rng = np.random.default_rng(3)
    rho, n = 0.7, 2000
    x = rng.normal(size=n)
    y = rho * x + np.sqrt(1 - rho**2) * rng.normal(size=n)
    result = pearson_with_ci(x, y, samples=800, seed=0)
    assert result.r == pytest.approx(np.corrcoef(x, y)[0, 1])
    assert result.low < rho < result.high
    expected_width = 2 * 1.96 * (1 - rho**2) / np.sqrt(n)  # Fisher's large-sample standard error
    assert (result.high - result.low) == pytest.approx(expected_width, rel=0.25)
    assert pearson_with_ci(x, y, samples=800, seed=0) == result  # seeded
