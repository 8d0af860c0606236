"""Known toy-model results (Elhage et al. 2022) reproduced by the batched trainer."""

import numpy as np
import pytest

from helpers.theory.toy_models import train_toy_models

STICKING_POINTS = np.array([1, 3 / 4, 2 / 3, 1 / 2, 2 / 5, 3 / 8])


@pytest.fixture(scope="module")
def importance_demo():
    # n = 20 features, m = 5 dimensions, importance 0.7^i: dense and very sparse inputs
    return train_toy_models(20, 5, [0.0, 0.99], [0.7], steps=2000, batch_size=512, lr=3e-3, progress=False)


def test_dense_features_only_the_most_important_m_are_represented(importance_demo):
    norms = importance_demo.feature_norms()[0]
    assert importance_demo.represented()[0] == 5
    assert np.all(norms[:5] > 0.9) and np.all(norms[5:] < 0.1)
    # no superposition: the represented directions are orthogonal
    gram = importance_demo.gram()[0][:5, :5]
    assert np.abs(gram - np.diag(np.diag(gram))).max() < 0.05


def test_sparse_features_are_stored_in_superposition(importance_demo):
    assert importance_demo.represented()[1] >= 10  # clearly more than m = 5
    assert importance_demo.superposition()[1][:5].mean() > 0.1


def test_dimensions_per_feature_stick_at_the_known_fractions():
    inverse_density = np.array([2.0, 3.0, 5.0])
    models = train_toy_models(200, 20, list(1 - 1 / inverse_density), steps=2000, batch_size=256, lr=3e-3, progress=False)
    d_star = models.dimensions_per_feature()
    assert np.all(np.diff(d_star) < 0)  # sparser -> fewer dimensions per feature
    assert d_star[1] == pytest.approx(1 / 2, abs=0.03)  # antipodal pairs
    for k, norms in enumerate(models.feature_norms()):
        per_feature = models.feature_dimensionality()[k][norms > 0.5]
        distance = np.abs(per_feature[:, None] - STICKING_POINTS[None, :]).min(axis=1)
        assert (distance < 0.05).mean() > 0.9


def test_dense_uniform_importance_uses_every_dimension_once():
    models = train_toy_models(200, 20, [0.0], steps=300, batch_size=256, lr=3e-3, progress=False)
    assert models.dimensions_per_feature()[0] == pytest.approx(1.0, abs=0.05)


def test_same_seed_same_numbers_and_bad_input():
    a = train_toy_models(6, 2, [0.5, 0.9], [0.8], steps=50, batch_size=64, seed=3, progress=False)
    b = train_toy_models(6, 2, [0.5, 0.9], [0.8], steps=50, batch_size=64, seed=3, progress=False)
    np.testing.assert_array_equal(a.weights, b.weights)
    assert a.weights.shape == (2, 2, 6) and a.sparsities.tolist() == pytest.approx([0.5, 0.9])
    with pytest.raises(ValueError, match=r"sparsities must lie in \[0, 1\)"):
        train_toy_models(6, 2, [1.0], steps=1, progress=False)
    with pytest.raises(ValueError, match="importance_decays must be > 0"):
        train_toy_models(6, 2, [0.5], [0.0], steps=1, progress=False)
