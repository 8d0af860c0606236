"""The theory note's arithmetic against hand-computed values and an independent root finder."""

import math

import numpy as np
import pytest
from scipy.optimize import brentq

from helpers.theory import superposition as sp


def test_model_a_b_table_matches_the_note_for_a_doubling():
    a = sp.Shape(8, 256)
    b = sp.equal_parameter_partner(a, 2)
    assert (b.n_layer, b.d_model) == (2, 512)
    table = sp.compare_shapes(a, b, n_features=1e5)
    ratio = table["B / A"]
    assert ratio["parameters N"] == pytest.approx(1)
    assert ratio["neurons per layer"] == pytest.approx(2)
    assert ratio["layers"] == pytest.approx(1 / 4)
    assert ratio["total neurons"] == pytest.approx(1 / 2)
    assert ratio["aspect ratio"] == pytest.approx(8)
    assert ratio["features per layer"] == pytest.approx(4)
    assert ratio["features per neuron"] == pytest.approx(2)
    assert table.loc["features per neuron", "Model A"] == pytest.approx(1e5 / (8 * 256))


@pytest.mark.parametrize("k", [1.5, 3, 4])
def test_any_width_factor(k):
    table = sp.compare_shapes(sp.Shape(16, 128), sp.equal_parameter_partner(sp.Shape(16, 128), k), 1e4)
    assert table.loc["aspect ratio", "B / A"] == pytest.approx(k**3)
    assert table.loc["total neurons", "B / A"] == pytest.approx(1 / k)
    assert table.loc["features per neuron", "B / A"] == pytest.approx(k)


def test_degree_of_superposition_hand_values():
    # S = 0.99: -1 / (0.01 ln 0.01) = 100 / 4.605170 = 21.714724
    assert sp.degree_of_superposition(0.99) == pytest.approx(21.714724, rel=1e-7)
    # minimum e at S = 1 - 1/e
    assert sp.degree_of_superposition(1 - 1 / math.e) == pytest.approx(math.e)
    # S = 1/2: -1 / (0.5 ln 0.5) = 2 / ln 2 = 2.885390
    assert sp.degree_of_superposition(0.5) == pytest.approx(2.8853901, rel=1e-7)


@pytest.mark.parametrize("degree", [math.e * (1 + 1e-9), 3.0, 10.0, 21.714724, 1e3, 1e6])
def test_required_sparsity_inverts_the_bound_like_a_root_finder(degree):
    density = brentq(lambda p: -1 / (p * math.log(p)) - degree, 1e-300, 1 / math.e, xtol=1e-300, rtol=1e-15)
    assert sp.required_sparsity(degree) == pytest.approx(1 - density, abs=1e-7)
    assert sp.degree_of_superposition(sp.required_sparsity(degree)) == pytest.approx(degree, rel=1e-6)


def test_partner_sparsity_for_model_b():
    s_b = sp.partner_sparsity(0.99, 2)
    assert sp.degree_of_superposition(s_b) == pytest.approx(2 * 21.714724, rel=1e-6)
    assert 1 - s_b == pytest.approx(0.0042091, rel=1e-4)  # B's features must be ~2.4x rarer
    assert sp.partner_sparsity(0.99, 1) == pytest.approx(0.99)


@pytest.mark.parametrize("bad", [0.0, 1.0, -0.1, 1.5, float("nan")])
def test_sparsity_outside_the_open_interval_is_rejected(bad):
    with pytest.raises(ValueError, match=r"sparsity must lie in the open interval \(0, 1\)"):
        sp.degree_of_superposition(bad)


def test_inverse_and_partner_domains():
    with pytest.raises(ValueError, match="degree must be at least e"):
        sp.required_sparsity(2.0)
    with pytest.raises(ValueError, match=r"sparsity_a must lie in \[1 − 1/e, 1\)"):
        sp.partner_sparsity(0.5, 2)
    with pytest.raises(ValueError, match="degree_factor must be ≥ 1"):
        sp.partner_sparsity(0.9, 0.5)
    with pytest.raises(ValueError, match="width_factor must be > 0"):
        sp.equal_parameter_partner(sp.Shape(8, 256), 0)


def test_speculative_fixes():
    k = np.array([1.5, 2, 4])
    assert sp.capacity_ratio(k, width_exponent=1) == pytest.approx(1 / k)  # linear: B holds 1/k as much
    assert sp.capacity_ratio(k, width_exponent=2) == pytest.approx(np.ones(3))  # the square term
    assert sp.matching_width_exponent(1.0) == 2.0
    assert sp.capacity_ratio(2, sp.matching_width_exponent(0.75), 0.75) == pytest.approx(1)


def test_cylinder_keeps_volume_and_loses_surface():
    table = sp.cylinder([0.5, 1, 2, 4])
    assert table["volume"].to_numpy() == pytest.approx([math.pi] * 4)
    assert table["surface"].to_numpy() == pytest.approx(2 * math.pi / np.array([0.5, 1, 2, 4]))
    assert table["aspect_ratio"].to_numpy() == pytest.approx(np.array([0.5, 1, 2, 4]) ** 3)


def test_sticking_null_share_by_hand_and_by_sampling():
    from helpers.theory.superposition import sticking_null_share

    points = np.array([1, 3 / 4, 2 / 3, 1 / 2, 2 / 5, 3 / 8])
    # by hand: [0.95, 1] + [0.7, 0.8] (3/4 and 2/3 overlap: 0.6167–0.8) ... as one union
    expected = (1 - 0.95) + (0.8 - 2 / 3 + 0.05) + 0.1 + (0.45 - 0.325)
    assert sticking_null_share(points, 0.3, 1.0, 0.05) == pytest.approx(expected / 0.7)
    samples = np.random.default_rng(0).uniform(0.3, 1.0, 200_000)
    sampled = (np.abs(samples[:, None] - points).min(axis=1) < 0.05).mean()
    assert sticking_null_share(points, 0.3, 1.0, 0.05) == pytest.approx(sampled, abs=0.005)
