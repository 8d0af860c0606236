"""Chapter 5's bookkeeping: which latents are kept, counted and paired, checked by hand."""

import numpy as np
import pandas as pd
import pytest

from helpers.universality_suite import keep_most_important, matched_frequencies, top_fraction_slopes, width_counts


def test_keep_most_important_by_hand():
    importance = np.array([0.2, 1.0, 0.0, 0.5, 0.5, 0.9])
    assert keep_most_important(importance, 0.5).tolist() == [False, True, False, True, False, True]
    assert keep_most_important(importance, 0.34).tolist() == [False, True, False, True, False, True]  # ceil(2.04) = 3
    assert keep_most_important(importance, 1.0).all()
    assert keep_most_important(importance, 1 / 6).sum() == 1


def latent_rows(scored, d_model, against, against_d_model, universality, frequency=None, match=None, kind="cross-width"):
    n = len(universality)
    return pd.DataFrame({"kind": kind, "scored": scored, "d_model": d_model, "against": against,
                         "against_d_model": against_d_model, "latent": np.arange(n),
                         "universality": universality, "dead": np.isnan(universality),
                         "frequency": frequency if frequency is not None else np.full(n, 0.1),
                         "match": match if match is not None else np.zeros(n, dtype=int)})


def test_width_counts_by_hand():
    nan = np.nan
    latents = pd.concat([
        latent_rows("A", 16, "B", 32, np.array([0.9, 0.2, 0.6, nan])),
        latent_rows("A", 16, "C", 64, np.array([0.8, 0.7, 0.1, nan])),
        latent_rows("B", 32, "A", 16, np.array([0.1, 0.1, 0.1, 0.1])),
        latent_rows("B", 32, "C", 64, np.array([0.1, 0.1, 0.1, 0.6])),
    ])
    counts = width_counts(latents, 0.5).set_index("model")
    assert counts.loc["A"].tolist() == [16, 4, 3, 3, 1]  # d_model, latents, alive, matched any, matched all
    assert counts.loc["B"].tolist() == [32, 4, 4, 1, 0]


def test_matched_frequencies_pairs_each_latent_with_its_match():
    latents = pd.concat([
        latent_rows("X", 8, "Y", 16, np.array([0.9, 0.3, 0.7]), frequency=np.array([0.1, 0.2, 0.3]), match=np.array([2, 0, 1]), kind="equal-N pair"),
        latent_rows("Y", 16, "X", 8, np.array([0.5, 0.5, 0.5]), frequency=np.array([0.01, 0.02, 0.03]), match=np.array([0, 0, 0]), kind="equal-N pair"),
    ])
    matched = matched_frequencies(latents, "X", "Y", "equal-N pair", 0.5)
    assert matched.latent.tolist() == [0, 2] and matched.match.tolist() == [2, 1]
    np.testing.assert_allclose(matched.frequency, [0.1, 0.3])
    np.testing.assert_allclose(matched.match_frequency, [0.03, 0.02])


def test_top_fraction_slopes_recover_a_power_law():
    n = np.array([1e5, 4e5, 1.6e6, 6.4e6])
    losses = pd.concat([pd.DataFrame({"keep_fraction": f, "N": n, "ce_spliced": (1e10 / n) ** alpha})
                        for f, alpha in ((0.5, 0.02), (1.0, 0.09))])
    slopes = top_fraction_slopes(losses)
    assert slopes.alpha.tolist() == pytest.approx([0.02, 0.09])
