"""Chapter 5's bookkeeping: which latents are kept, counted and paired, and the rules that decide
verdicts, checked by hand."""

import numpy as np
import pandas as pd
import pytest

from helpers.chapters import verdicts
from helpers.chapters.universality_suite import (
    fraction_slopes,
    fraction_summary,
    fraction_verdict,
    frequency_matched_mask,
    keep_mask,
    loss_gap,
    width_counts,
)


def test_keep_mask_by_hand():
    importance = np.array([0.2, 1.0, 0.0, 0.5, 0.5, 0.9])
    assert keep_mask(importance, 0.5).tolist() == [False, True, False, True, False, True]
    assert keep_mask(importance, 0.34).tolist() == [False, True, False, True, False, True]  # ceil(2.04) = 3
    assert keep_mask(importance, 1.0).all()
    assert keep_mask(importance, 1 / 6).sum() == 1
    assert keep_mask(importance, 0.5, "least important").tolist() == [True, False, True, True, False, False]
    random = keep_mask(importance, 0.5, "random", seed=3)
    assert random.sum() == 3 and random.tolist() == keep_mask(importance, 0.5, "random", seed=3).tolist()
    assert any(keep_mask(np.zeros(100), 0.5, "random", seed=s).tolist() != random.tolist() for s in range(2))
    with pytest.raises(ValueError, match="rule"):
        keep_mask(importance, 0.5, "densest")


def latent_rows(
    scored,
    d_model,
    against,
    against_d_model,
    universality,
    frequency=None,
    match=None,
    kind="cross-width",
    one_to_one=None,
    scored_seed=0,
    against_seed=0,
):
    n = len(universality)
    return pd.DataFrame(
        {
            "kind": kind,
            "scored": scored,
            "scored_seed": scored_seed,
            "d_model": d_model,
            "against": against,
            "against_seed": against_seed,
            "against_d_model": against_d_model,
            "latent": np.arange(n),
            "universality": universality,
            "dead": np.isnan(universality),
            "one_to_one": one_to_one if one_to_one is not None else universality,
            "frequency": frequency if frequency is not None else np.full(n, 0.1),
            "match": match if match is not None else np.zeros(n, dtype=int),
        }
    )


def test_width_counts_by_hand():
    nan = np.nan
    latents = pd.concat(
        [
            latent_rows("A", 16, "B", 32, np.array([0.9, 0.2, 0.6, nan]), one_to_one=np.array([0.9, 0.2, 0.1, nan])),
            latent_rows("A", 16, "C", 64, np.array([0.8, 0.7, 0.1, nan]), one_to_one=np.array([0.1, 0.7, 0.1, nan])),
            latent_rows("B", 32, "A", 16, np.array([0.1, 0.1, 0.1, 0.1])),
            latent_rows("B", 32, "C", 64, np.array([0.1, 0.1, 0.1, 0.6])),
            latent_rows("A", 16, "B", 32, np.array([0.9, 0.9, 0.9, 0.9]), scored_seed=1),  # another replicate: ignored
        ]
    )
    counts = width_counts(latents, 0.5).set_index("model")
    # d_model, latents, alive, matched any, matched all, one-to-one any, one-to-one all
    assert counts.loc["A"].tolist() == [16, 4, 3, 3, 1, 2, 0]
    assert counts.loc["B"].tolist() == [32, 4, 4, 1, 0, 1, 0]


def power_law_losses(alphas: dict[tuple[str, float], float], noise: float = 0.0) -> pd.DataFrame:
    n = np.array([1e5, 4e5, 1.6e6, 6.4e6])
    rng = np.random.default_rng(0)
    return pd.concat(
        [
            pd.DataFrame({"rule": rule, "keep_fraction": f, "N": n, "ce_spliced": (1e10 / n) ** alpha * np.exp(rng.normal(0, noise, 4))})
            for (rule, f), alpha in alphas.items()
        ]
    )


def test_fraction_slopes_recover_a_power_law():
    slopes = fraction_slopes(power_law_losses({("most important", 0.5): 0.02, ("most important", 1.0): 0.09}))
    assert slopes.alpha.tolist() == pytest.approx([0.02, 0.09])
    assert slopes.r_squared.tolist() == pytest.approx([1.0, 1.0])


def test_fraction_verdict_compares_with_both_controls_and_the_talks_trend():
    def verdict(top: tuple[float, float], random: float, least: float, noise: float = 0.0) -> str:
        alphas = {("most important", 0.2): top[0], ("most important", 0.5): top[1], ("most important", 1.0): 0.09}
        for rule, alpha in (("random", random), ("least important", least)):
            alphas |= {(rule, 0.2): alpha, (rule, 0.5): alpha, (rule, 1.0): 0.09}
        return fraction_verdict(fraction_slopes(power_law_losses(alphas, noise))).verdict

    assert verdict((0.02, 0.05), 0.07, 0.08) == verdicts.REPRODUCED  # rises as the talk's, below both controls
    assert verdict((0.02, 0.05), 0.01, 0.08) == verdicts.INCONCLUSIVE  # random-x% lower: splice damage could do it
    assert verdict((0.08, 0.05), 0.10, 0.10) == verdicts.NOT_REPRODUCED  # falls as more latents are kept
    assert verdict((0.02, 0.05), 0.07, 0.08, noise=0.5) == verdicts.INCONCLUSIVE  # the power laws do not hold


def test_loss_gap_is_symmetric_in_nats():
    assert loss_gap(3.2, 3.0) == pytest.approx(0.2) and loss_gap(3.0, 3.2) == pytest.approx(0.2)


def test_first_replicates_keeps_each_models_lowest_seed_on_both_sides():
    from helpers.chapters.universality_suite import first_replicates

    rows = pd.concat(
        [
            latent_rows("A", 16, "B", 32, np.array([0.1]), scored_seed=0, against_seed=0),
            latent_rows("A", 16, "B", 32, np.array([0.2]), scored_seed=1, against_seed=0),
            latent_rows("A", 16, "B", 32, np.array([0.3]), scored_seed=0, against_seed=1),
            latent_rows("C", 16, "A", 16, np.array([0.4]), scored_seed=1000, against_seed=0, kind="seed control"),
            latent_rows("A", 16, "A", 16, np.array([0.5]), scored_seed=0, against_seed=1, kind="SAE seed"),
            latent_rows("A", 16, "tokens", 0, np.array([0.6]), scored_seed=0, against_seed=0, kind="token identity"),
        ]
    )
    assert first_replicates(rows).universality.tolist() == [0.1, 0.4, 0.6]


def test_frequency_matched_subsets_keep_the_frequency_profile():
    rng = np.random.default_rng(3)
    frequency = np.concatenate([np.zeros(20), 10 ** rng.uniform(-5, -1, 480)])
    keep = frequency > np.quantile(frequency, 0.8)  # the most frequent fifth, as shared latents tend to be
    control = frequency_matched_mask(frequency, keep, seed=1).numpy()
    assert control.sum() == keep.sum()
    assert np.median(np.log(frequency[control])) == pytest.approx(np.median(np.log(frequency[keep])), abs=0.5)
    plain = keep_mask(np.zeros(len(keep)), keep.mean(), "random", 1).numpy()  # an unmatched draw sits lower
    assert np.median(frequency[plain]) < np.median(frequency[control])
    np.testing.assert_array_equal(control, frequency_matched_mask(frequency, keep, seed=1).numpy())  # fixed seed
    assert not np.array_equal(control, frequency_matched_mask(frequency, keep, seed=2).numpy())
    dead = np.zeros(len(keep), dtype=bool)
    dead[:5] = True  # kept dead latents are matched by dead latents
    assert frequency[frequency_matched_mask(frequency, dead, seed=0).numpy()].max() == 0


def test_fraction_summary_spreads_the_random_draws():
    slopes = pd.DataFrame(
        {
            "rule": ["random"] * 3 + ["most important"],
            "keep_fraction": [0.5] * 4,
            "draw": [0, 1, 2, 0],
            "alpha": [0.01, 0.02, 0.03, 0.05],
            "r_squared": [0.9, 0.8, 0.95, 1.0],
        }
    )
    summary = fraction_summary(slopes).set_index("rule")
    assert summary.alpha["random"] == pytest.approx(0.02) and summary.draws["random"] == 3
    assert summary.alpha_low["random"] == pytest.approx(np.quantile([0.01, 0.02, 0.03], 0.025))
    assert summary.r_squared["random"] == pytest.approx(0.8)
    assert fraction_summary(slopes.drop(columns="draw")).draws.max() == 1  # a bundle made before draws


def test_example_contexts_fold_to_one_row_per_latent():
    import pandas as pd

    from helpers.chapters.ch05_universality import examples_by_latent

    rows = [("most universal", "L8-d96 #7", 0.9, "L8-d96", 7, f"a[{i}]", 0.5 - i / 10) for i in range(3)]
    rows += [("most universal", "L8-d96 #7", 0.9, "L8-d64", 3, f"b[{i}]", 0.4) for i in range(3)]
    rows += [("least universal", "L8-d96 #1", 0.1, "L8-d96", 1, "c[x]", 0.2)]
    examples = pd.DataFrame(rows, columns=["kind", "latent", "universality", "model", "its latent", "context", "activation"])
    folded = examples_by_latent(examples)
    assert folded.latent.tolist() == ["L8-d96 #7", "L8-d96 #1"]
    first = folded.iloc[0]
    assert first["its top contexts (activation)"] == "a[0] (0.500) · a[1] (0.400) · a[2] (0.300)"
    assert first["best match"] == "L8-d64 #3" and first["the match's top contexts"].count("b[") == 3
    assert folded.iloc[1]["best match"] == "–" and folded.iloc[1]["the match's top contexts"] == ""
