"""The corpus comparison: which rungs are twins, the measures read from their files, the interval rule
and the sentence per claim, on hand-made rungs whose answers are known."""

from __future__ import annotations

import math

import matplotlib
import numpy as np
import pandas as pd
import pytest

matplotlib.use("Agg")

from helpers.chapters import verdicts  # noqa: E402
from helpers.publish import corpora, ladder, plotting  # noqa: E402
from helpers.publish.ladder import LM, UNIVERSALITY, Rung  # noqa: E402

SITE = "blocks.6.hook_resid_pre"


def fake_rung(
    preset: str,
    corpus: str,
    *,
    r=(0.30, 0.25, 0.35),
    widths=(64, 96),
    token_likeness=(0.2, 0.4, 0.3),
    alpha_r_squared: float | None = 0.995,
    missing: tuple[str, str] | None = None,
) -> Rung:
    """A rung built from small hand tables: two widths of depth 8 (width 64 with two LM seeds), chapter
    5's pooled intervals, three SAEs' token-likeness (each listed twice, as a scored SAE is in every
    pair it is scored in), the embeddings of the family, a seed control and a 2-layer pair model,
    chapter 8's fits and chapter 9's n* at two k. ``missing`` names a file the rung did not write."""
    kinds = pd.DataFrame(
        [
            ("cross-width", "r", *r, 4, 16, 2),
            ("cross-width", "partial_r", -0.10, -0.15, -0.05, 4, 16, 2),
            ("cross-width", "mean_universality", 0.50, 0.48, 0.52, 4, 16, 2),
            ("untrained pair", "r", 0.28, 0.26, 0.30, 4, 4, 1),
            ("untrained pair", "mean_universality", 0.70, 0.69, 0.71, 4, 4, 1),
        ],
        columns=["kind", "statistic", "value", "low", "high", "model_pairs", "sae_pairs", "lm_seeds"],
    )
    scored = [("L8-d64", 0, 64), ("L8-d64", 0, 64), ("L8-d64", 1, 64), ("L8-d64", 1, 64), ("L8-d96", 0, 96), ("L8-d96", 0, 96)]
    likeness = [token_likeness[0]] * 2 + [token_likeness[1]] * 2 + [token_likeness[2]] * 2
    pairs = pd.DataFrame(
        {
            "kind": "cross-width",
            "site": SITE,
            "scored": [s for s, _, _ in scored],
            "scored_seed": [k for _, k, _ in scored],
            "d_model": [w for _, _, w in scored],
            "mean_token_likeness": likeness,
        }
    )
    seed_row = {"kind": ["SAE seed"], "site": [SITE], "scored": ["L8-d64"], "scored_seed": [0], "d_model": [64], "mean_token_likeness": [0.99]}
    untrained = {"kind": ["untrained pair"] * 2, "site": [SITE] * 2, "scored": ["L8-d64-random"] * 2, "scored_seed": [0] * 2}
    untrained |= {"d_model": [64] * 2, "mean_token_likeness": [0.1] * 2}  # one untrained SAE, listed in two pairs
    pairs = pd.concat([pairs, pd.DataFrame(seed_row), pd.DataFrame(untrained)], ignore_index=True)
    geometry = pd.DataFrame(
        {
            "model": ["L8-d64", "L8-d64-seed1", "L8-d96", "L2-d128", "L8-d64-random"],
            "role": ["family", "seed control", "family", "pair", "family"],
            "trained": [True, True, True, True, False],
            "n_layers": [8, 8, 8, 2, 8],
            "d_model": [64, 64, 96, 128, 64],
            "well_above_zero": [0.2, 0.3, 0.25, 0.9, 1.0],
        }
    )
    summary = {
        "overlap_scaling": {
            "trained_slope": -0.8,
            "trained_low": -0.9,
            "trained_high": -0.7,
            "untrained_slope": -1.0,
            "untrained_low": -1.01,
            "untrained_high": -0.99,
        },
        "width_law": {"alpha_m": 1.2, "alpha_low": 0.9, "alpha_high": 1.5, "r_squared": alpha_r_squared, "interval": "bootstrap"},
        "zipf": {"exponent": 1.1, "r_squared": 0.9},
    }
    needed = pd.DataFrame(
        [
            ("normalised_mse", 16, 64, 256.0, 0.0, 256.0, "≤ 256"),
            ("normalised_mse", 16, 96, 1024.0, 1024.0, math.inf, "> 1,024 (beyond the sweep)"),
            ("normalised_mse", 8, 96, 300.0, 250.0, 350.0, "300"),  # a second k, below the first: not the verdicts' k
        ],
        columns=["error", "k", "d_model", "n_star", "low", "high", "label"],
    )
    models = pd.DataFrame(
        {"model": [f"L8-d{w}" for w in widths], "role": "family", "d_model": list(widths), "N (12·L·d²)": [96.0 * w * w for w in widths]}
    )
    tables = {
        (LM, "models"): models,
        (UNIVERSALITY, "kind_intervals"): kinds,
        (UNIVERSALITY, "pair_summary"): pairs,
        (corpora.GEOMETRY, "token_geometry"): geometry,
        (corpora.COUNTING, "needed"): needed,
    }
    records = {(corpora.GEOMETRY, "summary"): summary, (corpora.COUNTING, "summary"): {"k": 16}}

    def parameters(chapter: str) -> dict:
        common = {"preset": preset, "runs_dir": f"/runs/{preset}", "seed": 0}
        if chapter == LM:
            return common | {"corpus": corpus, "widths": list(widths), "n_layers": 8}
        return common | {"site": SITE, "match_threshold": 0.5}

    return Rung(
        preset,
        "bundle",
        lambda c, n: tables[(c, n)],
        lambda c, n: records[(c, n)],
        parameters,
        lambda c, n: (c, n) != missing,
    )


def test_intervals_are_apart_only_when_they_do_not_meet():
    def E(value, low, high):
        return corpora.Estimate(value, low, high, "")

    assert corpora.compare(E(0.3, 0.2, 0.4), E(0.6, 0.5, 0.7)) == corpora.APART
    assert corpora.compare(E(0.6, 0.5, 0.7), E(0.3, 0.2, 0.4)) == corpora.APART
    assert corpora.compare(E(0.3, 0.2, 0.5), E(0.6, 0.5, 0.7)) == corpora.OVERLAP  # touching is meeting
    assert corpora.compare(E(0.3, 0.2, 0.9), E(0.6, 0.5, 0.7)) == corpora.OVERLAP  # one inside the other
    assert corpora.compare(E(np.nan, np.nan, np.nan), E(0.6, 0.5, 0.7)) == corpora.NOT_MEASURED
    assert corpora.compare(E(0.3, np.nan, np.nan), E(0.6, 0.5, 0.7)) == corpora.NO_INTERVAL
    assert corpora.compare(E(1024, 1024, math.inf), E(300, 250, 350)) == corpora.APART


def test_twins_differ_in_the_corpus_and_nothing_else():
    python = fake_rung("study", "pysource")
    english = fake_rung("study-en", "debian-en")
    wider = fake_rung("study-wide", "debian-en", widths=(64, 128))
    same_corpus = fake_rung("study-again", "pysource")
    incomplete = fake_rung("study-part", "text:x", missing=(corpora.COUNTING, "needed.csv"))
    pairs = corpora.twins([python, english, wider, same_corpus, incomplete])
    assert [(a.preset, b.preset) for a, b in pairs] == [("study", "study-en"), ("study-en", "study-again")]
    assert corpora.twins([python, wider]) == []


def test_the_comparison_reads_each_measure_and_judges_its_intervals():
    python = fake_rung("study", "pysource")
    english = fake_rung("study-en", "debian-en", r=(0.60, 0.55, 0.65), token_likeness=(0.5, 0.6, 0.7), alpha_r_squared=None)
    table = corpora.comparison(python, english).set_index("measure")
    assert list(table.columns) == ["study (pysource)", "study-en (debian-en)", "interval", "intervals"]
    r = table.loc["r(importance, universality), cross-width"]
    assert r["study (pysource)"] == "0.300 [0.250, 0.350]" and r["study-en (debian-en)"] == "0.600 [0.550, 0.650]"
    assert r.intervals == corpora.APART and r.interval == "95%: LM seeds (2 per width), SAE seeds, latents"
    assert table.loc["r, untrained pair of the same widths (its floor)"].interval == "95%: latents"
    assert table.loc["partial r after log frequency and token-likeness"].intervals == corpora.OVERLAP
    # token-likeness width by width: one value per scored SAE, never the SAE-seed rows
    at_64 = table.loc["mean token-likeness of the latents, width 64"]
    assert at_64["study (pysource)"] == "0.300 [0.200, 0.400]" and at_64["study-en (debian-en)"] == "0.550 [0.500, 0.600]"
    assert at_64.intervals == corpora.SEED_RANGES  # 0.4 < 0.5, but ranges over two seeds are not judged
    floor = table.loc["mean token-likeness, untrained model of width 64 (its floor)"]
    assert floor["study (pysource)"] == "0.100 (no interval)"  # the untrained rows only, each SAE once
    at_96 = table.loc["mean token-likeness of the latents, width 96"]
    assert at_96["study (pysource)"] == "0.300 (no interval)" and at_96.intervals == corpora.NO_INTERVAL  # one SAE
    # rows above zero: the family and its seeds only, not the 2-layer pair model or the untrained one
    assert table.loc["share of token rows well above zero, width 64"]["study (pysource)"] == "0.250 [0.200, 0.300]"
    assert table.loc["α_m in L = C/m^α_m + L∞"]["study (pysource)"] == "1.20 (R² 0.995) [0.90, 1.50]"
    assert table.loc["α_m in L = C/m^α_m + L∞"]["study-en (debian-en)"] == "1.20 (R² –) [0.90, 1.50]"  # a null R² prints, never raises
    assert table.loc["token-overlap exponent in width (random: −1)"]["study (pysource)"] == "-0.80 [-0.90, -0.70]"
    untrained_overlap = table.loc["token-overlap exponent, untrained models (its floor)"]
    assert untrained_overlap["study (pysource)"] == "-1.00 [-1.01, -0.99]" and untrained_overlap.intervals == corpora.OVERLAP
    # n* at the verdicts' k (16), not the smaller second k, printed by its label
    n_star = table.loc["n* at the normalised MSE target, width 96"]
    assert n_star["study (pysource)"] == "> 1,024 (beyond the sweep) [1,024, ∞]" and n_star.intervals == corpora.SEED_RANGES
    assert table.loc["n* at the spliced-loss rise target, width 64"].intervals == corpora.NOT_MEASURED


def test_a_sentence_per_claim_says_whether_the_corpus_changed_the_answer():
    s = corpora.claim_sentence
    assert s("c", verdicts.NOT_REPRODUCED, verdicts.NOT_REPRODUCED, "pysource", "debian-en") == (
        "c: not reproduced on both corpora, so the answer does not depend on the corpus at this scale."
    )
    assert s("c", verdicts.REPRODUCED, verdicts.NOT_REPRODUCED, "pysource", "debian-en") == (
        "c: reproduced on pysource but not reproduced on debian-en, so the answer changed with the corpus (and its tokenizer)."
    )
    assert "is open" in s("c", verdicts.YES, verdicts.INCONCLUSIVE, "pysource", "debian-en")
    assert s("r in toy SAEs", verdicts.YES, verdicts.NO, "pysource", "debian-en", reads_corpus=False) == (
        "r in toy SAEs: its models read no corpus (they train on synthetic features), so the corpus cannot change it."
    )
    assert "cannot test" in s("c", verdicts.INCONCLUSIVE, verdicts.INCONCLUSIVE, "pysource", "debian-en")
    assert (
        s("c", verdicts.NOT_MEASURED, verdicts.YES, "pysource", "debian-en") == "c: not judged on pysource, so the corpora cannot be compared on it."
    )


def test_whether_a_claim_reads_a_corpus_comes_from_its_row_not_its_name(monkeypatch):
    a, b = fake_rung("study", "pysource"), fake_rung("study-en", "debian-en")
    judged = pd.DataFrame(
        {
            "claim or measurement": ["toy-like name, trained on the corpus", "plain name, synthetic features"],
            "rule": ["r1", "r2"],
            "control": ["c1", "c2"],
            corpora.READS_CORPUS: [True, False],
            "study": [verdicts.YES, verdicts.YES],
            "study-en": [verdicts.NO, verdicts.NO],
        }
    )
    monkeypatch.setattr(corpora, "verdict_ladder", lambda rungs: judged)
    outcomes = corpora.claim_outcomes(a, b)
    assert list(outcomes.outcome) == [corpora.CHANGED, corpora.NO_CORPUS]
    assert "changed with the corpus" in outcomes.sentence[0] and "read no corpus" in outcomes.sentence[1]


def test_the_answer_counts_measures_apart_and_claims_by_outcome():
    assert corpora.claim_outcome(verdicts.YES, verdicts.YES) == corpora.SAME
    assert corpora.claim_outcome(verdicts.INCONCLUSIVE, verdicts.INCONCLUSIVE) == corpora.UNDECIDED
    assert corpora.claim_outcome(verdicts.YES, verdicts.NO) == corpora.CHANGED
    assert corpora.claim_outcome(verdicts.INCONCLUSIVE, verdicts.NO) == corpora.OPEN
    assert corpora.claim_outcome(float("nan"), verdicts.NO) == corpora.UNJUDGED
    statuses = [corpora.APART, corpora.OVERLAP, corpora.OVERLAP, corpora.NOT_MEASURED, corpora.NO_INTERVAL, corpora.SEED_RANGES]
    table = pd.DataFrame({"intervals": statuses})
    outcomes = [corpora.CHANGED, corpora.SAME, corpora.SAME, corpora.OPEN, corpora.UNDECIDED, corpora.UNJUDGED, corpora.NO_CORPUS]
    outcomes = pd.DataFrame({"outcome": outcomes})
    assert corpora.summary(table, outcomes) == (
        "1 of the 3 measures with an interval on both corpora lie apart (a difference beyond what their intervals cover; "
        "seed ranges are shown but not judged). "
        "Of the 5 claims and measurements judged on both, the corpus changed the answer of 1 and left 2 unchanged; "
        "2 are inconclusive on one corpus or both, so these runs cannot say."
    )


def test_without_twins_the_section_says_the_question_is_open():
    found = corpora.section([fake_rung("study", "pysource")])
    assert "stays open" in found.lead and found.table.shape == (1, 1)


@pytest.mark.parametrize("count", [2, 3])
def test_rungs_of_one_n_are_drawn_apart_and_each_named(count):
    import matplotlib.pyplot as plt

    ladder = pd.DataFrame({"rung": ["quick"] + [f"twin{i}" for i in range(count)], "widest N": [1e5] + [1e6] * count, "r": np.arange(count + 1.0)})
    fig, ax = plt.subplots()
    plotting.draw_ladder(ax, ladder, "r", "r")
    x = ax.lines[0].get_xdata()
    assert x[0] == 1e5 and len(set(x[1:])) == count and np.allclose(np.exp(np.log(x[1:]).mean()), 1e6)
    assert sorted(t.get_text() for t in ax.texts) == sorted(ladder.rung)
    plt.close(fig)


def test_the_width_law_is_pooled_only_over_rungs_of_one_corpus():
    """Two rungs of one corpus share a planted α_m = 0.9 with different offsets; a third reads another
    corpus (its losses in other units) and must stay out of every pooled fit, as must a 2-layer model."""

    def rung(preset: str, corpus: str, offset: float) -> Rung:
        rows = [
            {
                "role": "family" if s == 0 else "seed control",
                "n_layers": 8,
                "d_model": m,
                "seed": s,
                "final_val_loss": 2.0 / m**0.9 + offset + 1e-4 * s,
            }
            for m in (32, 48, 64, 96, 128)
            for s in (0, 1)
        ]
        models = pd.DataFrame([*rows, {"role": "pair", "n_layers": 2, "d_model": 128, "seed": 0, "final_val_loss": 99.0}])
        return Rung(preset, "bundle", lambda c, n: models, lambda c, n: {}, lambda c: {"corpus": corpus, "n_layers": 8}, lambda c, n: True)

    rungs = [rung("a", "pysource", 3.0), rung("b", "pysource", 3.5), rung("c", "debian-en", 5.0)]
    table = ladder.width_law_ladder(rungs, samples=30)
    assert list(table.rung) == ["a (bundle)", "b (bundle)", "c (bundle)", "pysource rungs pooled (one offset per rung)"]
    pooled = table.iloc[-1]
    assert pooled["α_m"] == pytest.approx(0.9, abs=0.02) and pooled.points == 20 and pooled["R²"] > 0.999
