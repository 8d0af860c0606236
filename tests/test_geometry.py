"""Chapter 8's measurements and rules against closed forms, planted laws and the toy model itself."""

import numpy as np
import pandas as pd
import pytest

from helpers.chapters import geometry
from helpers.chapters.configs import config_for
from helpers.core.parameters import ParameterError
from helpers.theory import scaling_toy as st


def planted(widths, alpha, noise=0.0, seeds=2, batches=5, seed=0):
    rng = np.random.default_rng(seed)
    return {m: 3.0 * m**-alpha * np.exp(noise * rng.standard_normal((seeds, batches))) for m in widths}


def test_exponent_recovers_a_planted_power_law_and_its_interval_covers_it():
    widths = np.array([8, 16, 32, 64, 128])
    fit = geometry.exponent(widths, planted(widths, 0.9, noise=0.05, seeds=8), samples=300)
    assert fit.alpha == pytest.approx(0.9, abs=0.05) and fit.low < 0.9 < fit.high and fit.r_squared > 0.99
    exact = geometry.exponent(widths, planted(widths, 1.3), samples=20)
    assert exact.alpha == pytest.approx(1.3, abs=1e-12) and exact.low == pytest.approx(1.3) and exact.high == pytest.approx(1.3)


def test_the_weak_regime_at_alpha_one_bends_and_the_rule_sees_it():
    """The closed form (4/3)Σ_{i>m} p_i with p ∝ 1/i is no power law in m: its local exponent
    1/ln(n/m) steepens with m. The rule reads that as 'no power law' reproduced; a clean power law
    with the same expectation is 'not reproduced'."""
    n, widths = 1000, np.array([8, 16, 32, 64, 128, 256])
    p = st.FrequencyFamily("power", 1.0).frequencies(n)
    bent = {m: np.full((1, 3), st.left_out_loss(p, m)) for m in widths}
    expected = geometry.paper_expectation(st.FrequencyFamily("power", 1.0), st.WEAK_DECAY)
    assert np.isnan(expected[1])
    assert geometry.exponent_verdict(expected, geometry.exponent(widths, bent, 20), shift=0.0)[0] == "reproduced"
    straight = geometry.exponent(widths, planted(widths, 0.5, seeds=1), 20)
    assert geometry.exponent_verdict(expected, straight, shift=0.0)[0] == "not reproduced"


def test_exponent_verdict_follows_its_band_its_fit_quality_and_convergence():
    strong = geometry.paper_expectation(st.FrequencyFamily("power", 1.0), st.STRONG_DECAY)
    assert strong[1:] == (0.9, 1.1)
    assert geometry.paper_expectation(st.FrequencyFamily("power", 2.0), st.STRONG_DECAY)[1:] == pytest.approx((1.8, 2.2))
    assert geometry.paper_expectation(st.FrequencyFamily("power", 2.0), st.WEAK_DECAY)[1:] == pytest.approx((0.9, 1.1))
    assert geometry.paper_expectation(st.FrequencyFamily("power", 1.0), -0.2) is None
    fit = geometry.Exponent(1.0, 0.95, 1.05, 0.99, (1, 0.9, 1.1), (1, 0.9, 1.1))
    assert geometry.exponent_verdict(strong, fit, 0.01)[0] == "reproduced"
    assert geometry.exponent_verdict(strong, fit, 0.2)[0] == "inconclusive"  # not converged
    assert geometry.exponent_verdict(strong, geometry.Exponent(1.5, 1.4, 1.6, 0.99, (1, 0, 2), (1, 0, 2)), 0.0)[0] == "not reproduced"
    assert geometry.exponent_verdict(strong, geometry.Exponent(1.0, 0.9, 1.1, 0.8, (1, 0, 2), (1, 0, 2)), 0.0)[0] == "inconclusive"
    assert geometry.exponent_verdict(None, fit, 0.0)[0] == "not judged"


def test_token_geometry_of_random_rows_is_the_random_reference():
    rows = np.random.default_rng(0).standard_normal((2000, 16))
    measured = geometry.token_geometry(rows)
    assert measured["overlap_times_m"] == pytest.approx(1.0, abs=0.03)
    assert measured["centred_overlap_times_m"] == pytest.approx(1.0, abs=0.03)
    assert measured["well_above_zero"] > 0.85 and measured["top_direction_share"] < 2 / 16  # no row near zero
    shared = rows + 5.0  # one direction every row shares: raw overlaps near 1, centred ones unchanged
    assert geometry.token_geometry(shared)["overlap"] > 0.9
    assert geometry.token_geometry(shared)["centred_overlap_times_m"] == pytest.approx(measured["centred_overlap_times_m"], rel=1e-9)


def test_the_geometry_rule_calls_the_toy_regimes_by_their_names():
    """Calibration: the rule that reads language-model embeddings, applied to the toy model's own
    weights, says 'strong' for γ = −1 and not 'strong' for γ = 5/9."""
    runs = st.train_width(
        64,
        4,
        [st.FrequencyFamily("power", 1.5)],
        [st.STRONG_DECAY, st.WEAK_DECAY],
        [0],
        steps=600,
        batch_size=256,
        warmup=60,
        eval_batches=2,
        progress=False,
    )
    for run, expected in zip(runs, ("strong", "weak")):
        table = pd.DataFrame([{**geometry.token_geometry(run.weights), "trained": True}])
        assert geometry.geometry_verdict(table, 64)[0] == expected


def test_width_verdict_needs_the_band_and_excludes_the_rival():
    fit = geometry.WidthExponent("x", 0.95, 0.85, 1.05, 0.99, (1.0,), 8, "")
    assert geometry.width_verdict(fit, rival=0.2)[0] == "yes"
    assert geometry.width_verdict(fit, rival=0.9)[0] == "inconclusive"
    assert geometry.width_verdict(geometry.WidthExponent("x", 0.3, 0.2, 0.4, 0.99, (1.0,), 8, ""), rival=0.0)[0] == "no"
    assert geometry.width_verdict(geometry.WidthExponent("x", 0.95, 0.85, 1.05, 0.5, (1.0,), 8, ""), rival=0.0)[0] == "inconclusive"
    wide = geometry.WidthExponent("x", 1.19, 0.49, 1.90, 0.99, (1.0,), 5, "")  # the quick rung's: too wide to tell
    assert geometry.width_verdict(wide, rival=0.03)[0] == "inconclusive"
    assert geometry.quanta_alpha_m(1.5) == pytest.approx(1.0)


def test_width_exponent_recovers_a_planted_law_with_seed_intervals():
    rows = [{"d_model": m, "seed": s, "final_val_loss": 2.0 / m**0.9 + 3.0 + 1e-4 * s} for m in (32, 48, 64, 96, 128) for s in (0, 1)]
    fit = geometry.width_exponent("planted", [pd.DataFrame(rows)], samples=50)
    assert fit.alpha == pytest.approx(0.9, abs=0.02) and fit.low <= 0.9 <= fit.high + 0.02
    assert fit.interval.startswith("bootstrap")


def test_width_depth_reads_a_planted_law_and_predicts_left_out_shapes():
    shapes = [(8, 32), (8, 64), (8, 128), (2, 128), (32, 32), (4, 64)]
    rows = [{"n_layers": d, "d_model": m, "final_val_loss": 20 / m + 2 / d + 3.0 + 1e-4 * s} for d, m in shapes for s in (0, 1)]
    table, record = geometry.width_depth(pd.DataFrame(rows), 12 * 8 * 64**2, 12 * 8 * 768**2, (8, 256), 0.03, samples=40)
    assert record["status"] == "fitted" and record["fit"]["alpha_m"] == pytest.approx(1.0, abs=0.05)
    low, high = record["intervals"]["alpha_m"]
    assert low <= record["fit"]["alpha_m"] <= high and high - low < 0.1  # seeds 1e-4 nats apart: a tight interval
    assert record["valley_book"]["best_ratio"] == pytest.approx(20 / (2 * 2), rel=0.05)  # r* = c_m/(2c_ℓ) at unit exponents
    assert (table.left_out - table.loss).abs().max() < 0.01
    assert geometry.gaps_verdict(table, [(8, 64), (32, 32)])[0] == "yes"
    few, record = geometry.width_depth(pd.DataFrame(rows[:6]), 1e6, 1e8, (8, 256), 0.03)
    assert record["status"].startswith("3 shapes") and geometry.gaps_verdict(few, [(8, 64)])[0] == "inconclusive"


def test_further_depths_are_planned_with_chapter_7s_seeds_and_bad_ones_refused():
    from helpers.pipeline import planned_models

    cfg = config_for("smoke", "08_geometry")
    assert [p.name for p in geometry.plan(cfg)] == ["L4-d16", "L4-d16-seed1", "L1-d32", "L1-d32-seed1", "L4-d32", "L4-d32-seed1"]
    assert {p.name for p in geometry.plan(cfg)} <= set(planned_models("smoke"))
    with pytest.raises(ParameterError, match="parameter 'depth_shapes'"):
        config_for("smoke", "08_geometry", depth_shapes=[[4, 0]])


def test_bad_chapter_parameters_are_refused_naming_them():
    for name, value in [
        ("toy_families", ["zipf:1"]),
        ("toy_decays", [-1.5]),
        ("toy_widths", [-8, 16, 32]),
        ("toy_widths", [8, 16, 2000]),
        ("toy_seeds", [0, 0]),
    ]:
        with pytest.raises(ParameterError, match=f"parameter '{name}'"):
            config_for("smoke", "08_geometry", **{name: value})


def planted_width(regime, width, latents, truth):
    from helpers.chapters.planted import Width
    from helpers.universality.correlation import max_correlations

    return Width(regime, width, latents, max_correlations(latents, truth), 0)


def test_planted_truth_metrics_on_recoverable_and_unrecoverable_latents(tmp_path):
    """Latents that are the true features themselves (both widths) track them exactly, every partner
    tracks the same feature, and each latent's universality is 1; latents independent of the features
    track none. Importance is the max activation over the SAE's largest (by hand: feature values are
    capped at 2 and scaled per feature)."""
    import torch

    from helpers.chapters.planted import pair_rows
    from helpers.universality.activations import write_sparse

    g = torch.Generator().manual_seed(0)
    p = st.FrequencyFamily("power", 0.5).frequencies(12)
    x = st.SparseSampler(p, 20_000, g).dense()
    scale = torch.linspace(0.5, 1.0, 12)
    truth = write_sparse([x], tmp_path / "truth", 12)
    a = write_sparse([x * scale], tmp_path / "a", 12)  # each latent a feature, rescaled
    b = write_sparse([x[:, torch.randperm(12, generator=g)]], tmp_path / "b", 12)  # the same features, in another order
    row, latents = pair_rows(planted_width("strong", 4, a, truth), planted_width("strong", 8, b, truth), samples=50)
    assert row["live"] == 12 and row["tracking_share"] == 1.0 and row["same_feature_share"] == 1.0
    np.testing.assert_allclose(latents.universality, 1.0, atol=1e-9)
    np.testing.assert_allclose(latents.truth_r, 1.0, atol=1e-9)
    assert list(latents.true_feature) == list(range(12))
    maxima = (x * scale).max(dim=0).values.double().numpy()
    np.testing.assert_allclose(latents.importance, maxima / maxima.max(), rtol=1e-6)
    noise = write_sparse([torch.rand(20_000, 12, generator=g) * (torch.rand(20_000, 12, generator=g) < 0.1)], tmp_path / "noise", 12)
    row, latents = pair_rows(planted_width("weak", 4, noise, truth), planted_width("weak", 8, b, truth), samples=50)
    assert row["tracking_share"] == 0.0 and row["same_feature_share"] == 0.0 and latents.truth_r.max() < 0.1
    assert np.isnan(row["universality_same_r"])  # no latent agrees: the correlation is undefined, not 0


def planted_pair(regime, width, other, r, low, high, universality=0.5, replicate=0):
    from helpers.chapters.planted import SEED_PAIR, WIDTH_PAIR

    return {
        "regime": regime,
        "pair": WIDTH_PAIR if width != other else SEED_PAIR,
        "width": width,
        "other": other,
        "sae_replicate": replicate,
        "other_replicate": replicate if width != other else 1,
        "r": r,
        "r_low": low,
        "r_high": high,
        "mean_universality": universality,
        "same_feature_share": 0.5,
        "universality_same_r": 0.8,
        "universality_same_low": 0.7,
        "universality_same_high": 0.9,
        "represented": 10,
        "recovered": 8,
    }


def test_planted_reading_judges_each_regime_against_the_untrained_models():
    """Width pairs of every SAE seed make a regime's r range; seed pairs give only the seed
    universality; a regime is above the untrained models when every interval clears theirs, below
    when every one falls under, and overlapping otherwise; the discussion maps these to yes/no/
    inconclusive."""
    from helpers.chapters import ch10_discussion, planted, verdicts

    rows = [
        planted_pair("strong", 16, 32, 0.10, -0.05, 0.25),
        planted_pair("strong", 16, 32, 0.05, -0.10, 0.20, replicate=1),
        planted_pair("strong", 16, 16, 0.90, 0.85, 0.95, universality=0.8),
        planted_pair("weak", 16, 32, 0.60, 0.40, 0.75),
        planted_pair("weak", 16, 32, 0.55, 0.35, 0.70, replicate=1),
        planted_pair("untrained", 16, 32, 0.00, -0.15, 0.15),
        planted_pair("untrained", 16, 32, 0.02, -0.12, 0.18, replicate=1),
    ]
    found = planted.reading(pd.DataFrame(rows))
    assert found["strong"]["r_min"] == 0.05 and found["strong"]["r_max"] == 0.10 and found["strong"]["pairs"] == 2
    assert found["strong"]["seed_universality"] == 0.8 and found["strong"]["mean_universality"] == 0.5
    assert np.isnan(found["weak"]["seed_universality"])
    assert found["strong"]["against_untrained"] == "overlaps" and found["weak"]["against_untrained"] == "above"
    assert "against_untrained" not in found["untrained"]
    below = planted.reading(pd.DataFrame(rows[:2] + [planted_pair("untrained", 16, 32, 0.6, 0.3, 0.8)]))
    assert below["strong"]["against_untrained"] == "below"
    answers = ch10_discussion.planted_rows({"planted": found}, "quick")
    beyond = [r["answer"] for r in answers if r["measurement"].startswith("importance predicts universality more")]
    assert beyond == [verdicts.INCONCLUSIVE, "yes"]
    assert all(r["answer"] == verdicts.NOT_MEASURED for r in ch10_discussion.planted_rows(None, "quick"))
    assert not any(r[ch10_discussion.READS_CORPUS] for r in answers)  # toy models read synthetic features
    assert all(r[ch10_discussion.READS_CORPUS] for r in ch10_discussion.geometry_rows(None, "quick"))  # the language models' geometry


def test_bad_planted_parameters_are_named():
    with pytest.raises(ParameterError, match="planted_widths"):
        config_for("smoke", "08_geometry", planted_widths=[4, 5])
    with pytest.raises(ParameterError, match="planted_family"):
        config_for("smoke", "08_geometry", planted_family="power:3")
    with pytest.raises(ParameterError, match="planted_d_sae"):
        config_for("smoke", "08_geometry", planted_d_sae=2, planted_k=2)
