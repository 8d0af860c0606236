"""One-to-one matching and mutual nearest neighbours against brute force and hand-made cases."""

import itertools

import numpy as np
import pytest

from helpers.universality.matching import distinct_partners, mutual_nearest, one_to_one


def test_one_to_one_is_the_best_permutation_by_brute_force():
    rng = np.random.default_rng(0)
    matrix = rng.uniform(-0.2, 1, size=(6, 6))
    result = one_to_one(matrix)
    best = max(itertools.permutations(range(6)), key=lambda p: sum(matrix[i, j] for i, j in enumerate(p)))
    assert sorted(zip(result.rows.tolist(), result.cols.tolist())) == list(enumerate(best))
    assert len(set(result.cols.tolist())) == 6  # nobody is matched twice


def test_many_to_one_maxima_collapse_but_one_to_one_does_not():
    """Three latents of A all best match latent 0 of B: max correlation counts three matches,
    a one-to-one assignment only one above the threshold."""
    matrix = np.array([[0.9, 0.1, 0.0], [0.8, 0.2, 0.1], [0.85, 0.0, 0.2]])
    result = one_to_one(matrix)
    partner = result.partner_correlation(3)
    assert (matrix.max(axis=1) >= 0.5).sum() == 3
    assert (partner >= 0.5).sum() == 1 and partner.max() == pytest.approx(0.9)
    assert distinct_partners(matrix.max(axis=1), matrix.argmax(axis=1), 0.5) == 1


def test_dead_latents_are_left_out_and_shapes_may_differ():
    matrix = np.array([[0.9, np.nan, 0.1], [np.nan, np.nan, np.nan], [0.2, np.nan, 0.7], [0.3, np.nan, 0.6]])
    result = one_to_one(matrix)
    assert set(result.cols.tolist()) <= {0, 2} and 1 not in result.rows
    partner = result.partner_correlation(4)
    assert np.isnan(partner[1]) and partner[0] == pytest.approx(0.9) and partner[2] == pytest.approx(0.7)
    assert np.isnan(partner[3])  # two live columns for three live rows: one row stays unmatched
    assert result.partner_index(4).tolist() == [0, -1, 2, -1]  # the partners, by hand


def test_mutual_nearest_by_hand():
    a_to_b = np.array([1, 0, 0, -1])
    b_to_a = np.array([1, 0])
    assert mutual_nearest(a_to_b, b_to_a).tolist() == [True, True, False, False]
