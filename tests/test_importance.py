"""The saturating fit (the original's exactly, and the alternatives), fit quality, intervals at two
levels and partial correlations, against known answers and brute-force references."""

import warnings

import numpy as np
import pytest
from scipy import optimize, stats

from helpers.universality.fits import (
    bootstrap_r,
    fit_saturating,
    hierarchical_interval,
    kde_density,
    partial_correlation,
    pearson_with_ci,
    rank_correlation,
    saturating,
)


@pytest.fixture(scope="module")
def talk_curve():
    """Points on the talk's headline curve y = 0.95(1 − e^(−9.28(x − 0.10))) with small noise."""
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.beta(1.2, 6, 1500), rng.uniform(0, 1, 500)])  # a dense cloud at low importance
    x = x / x.max()  # importance: max over the largest max
    return x, saturating(x, 0.95, 9.28, 0.10) + rng.normal(0, 0.02, len(x))


def original_fit(x, y):
    """The original analysis's code, as published (main.ipynb, fit_exp_curve), verbatim in substance."""
    density = stats.gaussian_kde(np.vstack([x, y]))(np.vstack([x, y]))
    for p0 in ([1, 5, 0.5], [1, 1, 0.4], [0.8, 10, 0.3], [1.2, 3, 0.45]):
        try:
            popt, _ = optimize.curve_fit(saturating, x, y, p0=p0, sigma=1 / density, bounds=([0.5, 0.1, 0.1], [2.0, 20.0, max(x)]), maxfev=2000)
            return popt
        except Exception:  # noqa: BLE001 - the original's bare except
            continue
    return None


@pytest.mark.parametrize("weighting", ["original", "inverse density", "none"])
def test_fit_recovers_the_talk_curve(talk_curve, weighting):
    x, y = talk_curve
    fit = fit_saturating(x, y, weighting)
    assert fit.a == pytest.approx(0.95, abs=0.02) and fit.b == pytest.approx(9.28, rel=0.1)
    assert fit.c == pytest.approx(0.10, abs=0.01) and fit.r_squared > 0.95 and fit.is_fit
    assert fit.weighting == weighting and not fit.a_fixed
    assert fit.below_c == pytest.approx(float((x < fit.c).mean()))


def test_original_weighting_is_the_original_code(talk_curve):
    rng = np.random.default_rng(5)
    x, y = talk_curve
    for xs, ys in ((x, y), (x, rng.uniform(0, 0.6, len(x))), (x[:300], 0.3 + 0.5 * x[:300] + rng.normal(0, 0.1, 300))):
        expected = original_fit(xs, ys)
        fit = fit_saturating(xs, ys, "original")
        np.testing.assert_allclose([fit.a, fit.b, fit.c], expected, rtol=1e-9)


def test_the_two_density_weightings_differ_as_documented():
    """σ = 1/density weights squared residuals by density²: the dense cloud decides the curve."""
    rng = np.random.default_rng(6)
    dense = rng.uniform(0, 0.2, 1800)
    sparse = rng.uniform(0.2, 1, 200)
    x = np.concatenate([dense, sparse]) / 1.0
    y = np.concatenate([saturating(dense, 1.0, 2.0, 0.1), saturating(sparse, 0.6, 10.0, 0.1)]) + rng.normal(0, 0.01, 2000)
    original = fit_saturating(x, y, "original")
    inverse = fit_saturating(x, y, "inverse density")
    # the original follows the dense cloud's curve; inverse-density weighting follows the sparse tail
    dense_error = lambda f: np.abs(f(dense) - saturating(dense, 1.0, 2.0, 0.1)).mean()  # noqa: E731
    tail_error = lambda f: np.abs(f(sparse) - saturating(sparse, 0.6, 10.0, 0.1)).mean()  # noqa: E731
    assert dense_error(original) < dense_error(inverse)
    assert tail_error(inverse) < tail_error(original)


def test_a_fit_worse_than_a_constant_is_no_fit(talk_curve):
    x, _ = talk_curve
    rng = np.random.default_rng(1)
    flat = fit_saturating(x, 0.6 - 0.3 * x + rng.normal(0, 0.05, len(x)), "original")  # falling: the curve cannot follow
    assert flat.r_squared <= 0 and not flat.is_fit
    assert flat.formula().startswith("no fit (R² = ")
    fixed = fit_saturating(*talk_curve, "original", fix_a=1.0)
    assert fixed.a == 1.0 and fixed.a_fixed
    with pytest.raises(ValueError, match="weighting"):
        fit_saturating(x, x, "kde")


def test_no_start_converging_is_reported_not_raised():
    x = np.linspace(0, 1, 10)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = fit_saturating(x, np.full(10, np.nan), "none")
    assert not fit.converged and not fit.is_fit and fit.formula() == "no fit (did not converge)"


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


def test_hierarchical_interval_widens_with_seed_variance():
    """SAE pairs whose r differs by seed: the two-level interval must cover that spread, where a
    latent-level interval of one pair cannot."""
    rng = np.random.default_rng(4)
    units, values, draws = [], [], []
    seed_effect = {("A", 0): 0.2, ("A", 1): -0.2, ("B", 0): 0.1, ("B", 1): -0.1}
    for sa in (0, 1):
        for sb in (0, 1):
            r = 0.3 + seed_effect[("A", sa)] + seed_effect[("B", sb)]
            units.append(("A", sa, "B", sb))
            values.append(r)
            draws.append(r + rng.normal(0, 0.01, 500))  # tight latent-level noise
    result = hierarchical_interval(units, values, np.array(draws), samples=2000, seed=0)
    assert result.r == pytest.approx(0.3, abs=0.002)
    # seeds drawn {0,0}: 0.3 + 0.2 + 0.1 = 0.6 at most; {1,1}: 0.0 at least
    assert result.low < 0.1 and result.high > 0.5 and result.low >= -0.05 and result.high <= 0.65
    latent_only = np.quantile(draws[0], [0.025, 0.975])
    assert latent_only[1] - latent_only[0] < 0.1 < result.high - result.low
    # one seed per model: only latent-level noise is left
    single = hierarchical_interval(units[:1], values[:1], np.array(draws[:1]), samples=500, seed=0)
    assert single.high - single.low < 0.06
    with pytest.raises(ValueError, match="same non-zero length"):
        hierarchical_interval(units, values, np.array(draws[:2]))


def test_bootstrap_draws_are_pearson_of_resamples():
    rng = np.random.default_rng(8)
    x, y = rng.normal(size=50), rng.normal(size=50)
    draws = bootstrap_r(x, y, samples=3, seed=11)
    index = np.random.default_rng(11).integers(0, 50, size=(3, 50))
    expected = [np.corrcoef(x[i], y[i])[0, 1] for i in index]
    np.testing.assert_allclose(draws, expected, rtol=1e-12)


def test_partial_correlation_removes_a_shared_cause():
    rng = np.random.default_rng(7)
    z = rng.normal(size=5000)
    x = z + 0.5 * rng.normal(size=5000)
    y = z + 0.5 * rng.normal(size=5000)
    assert np.corrcoef(x, y)[0, 1] > 0.7
    assert abs(partial_correlation(x, y, z)) < 0.05  # independent given z
    w = rng.normal(size=5000)
    y2 = y + w
    x2 = x + w
    # hand formula for one control: (r_xy − r_xz r_yz) / √((1 − r_xz²)(1 − r_yz²))
    r = np.corrcoef([x2, y2, z])
    expected = (r[0, 1] - r[0, 2] * r[1, 2]) / np.sqrt((1 - r[0, 2] ** 2) * (1 - r[1, 2] ** 2))
    assert partial_correlation(x2, y2, z) == pytest.approx(expected, abs=1e-12)
    ranked = partial_correlation(np.exp(x2), np.exp(y2), z, rank=True)  # monotone transforms: rank version unchanged
    assert ranked == pytest.approx(partial_correlation(x2, y2, z, rank=True), abs=1e-12)


def test_rank_correlation_is_spearman_and_nan_for_constant_input(recwarn):
    rng = np.random.default_rng(9)
    x, y = rng.normal(size=40), rng.normal(size=40)
    assert rank_correlation(x, y) == pytest.approx(stats.spearmanr(x, y).statistic)
    assert np.isnan(rank_correlation(x, np.ones(40))) and np.isnan(rank_correlation(x[:2], y[:2]))
    assert not recwarn.list


def test_language_model_seeds_widen_the_interval_only_when_lineages_are_named():
    """Two widths with two language-model seeds each: r depends on the seed, not on latents or SAE
    seeds. Without lineages every model pair is its own unit and only latent noise is left; with
    them the seeds are resampled and the interval covers their spread. A lineage of one model each
    draws exactly as no lineage at all."""
    rng = np.random.default_rng(11)
    lm_effect = {"A": 0.15, "A-seed1": -0.15, "B": 0.05, "B-seed1": -0.05}
    lineage = {"A": "A", "A-seed1": "A", "B": "B", "B-seed1": "B"}
    units, values, draws = [], [], []
    for a, b in (("A", "B"), ("A-seed1", "B-seed1"), ("B", "A"), ("B-seed1", "A-seed1")):
        r = 0.4 + lm_effect[a] + lm_effect[b]
        units.append((a, 0, b, 0))
        values.append(r)
        draws.append(r + rng.normal(0, 0.005, 400))
    draws = np.array(draws)
    flat = hierarchical_interval(units, values, draws, samples=2000, seed=0)
    nested = hierarchical_interval(units, values, draws, samples=2000, seed=0, lineage=lineage)
    assert flat.r == pytest.approx(0.4) and nested.r == pytest.approx(0.4)  # balanced: the same point estimate
    assert flat.high - flat.low < 0.02
    # a draw keeps only seed-0 models (0.6) or only seed-1 models (0.2) with probability 1/16 each
    assert nested.low < 0.3 and nested.high > 0.5 and nested.low >= 0.19 and nested.high <= 0.61
    singletons = {m: m for m in lineage}
    assert hierarchical_interval(units, values, draws, samples=300, seed=3, lineage=singletons) == hierarchical_interval(
        units, values, draws, samples=300, seed=3
    )


def test_two_seeds_of_one_lineage_are_compared_not_resampled():
    """The seed control pairs two seeds of one width: its lineage pair has one lineage on both sides,
    so its models are kept as they are (a resample of [seed 0, seed 0] would leave no pair)."""
    units = [("A", 0, "A-seed1", 1000), ("A-seed1", 1000, "A", 0)]
    draws = np.array([np.full(50, 0.5), np.full(50, 0.7)])
    result = hierarchical_interval(units, [0.5, 0.7], draws, samples=200, seed=0, lineage={"A": "A", "A-seed1": "A"})
    assert result.r == pytest.approx(0.6)
    assert result.low == pytest.approx(0.6) and result.high == pytest.approx(0.6)
