"""The chapters' own rules (helpers.chapters and the verdicts they apply), each against hand-built
inputs whose answer is known; the chapters' full computations run in test_notebooks.py, where the
pipeline is also checked against the notebooks byte for byte."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from helpers import pipeline
from helpers.chapters import ch04_saes, ch05_universality, ch06_training_dynamics, ch07_equal_n, dynamics, equal_n, module, verdicts
from helpers.chapters.configs import CONFIGS, config_for
from helpers.core.parameters import ParameterError
from helpers.publish import toc


def test_every_chapter_has_one_compute_module_in_book_order():
    assert toc.chapters_in_book_order() == list(CONFIGS)  # the pipeline runs chapters in the book's order
    for chapter in CONFIGS:
        assert callable(module(chapter).compute)
    with pytest.raises(KeyError, match="11_sequel"):
        module("11_sequel")


@pytest.mark.parametrize(
    ("selection", "expected"),
    [
        (None, list(CONFIGS)),
        ("05,03", ["03_language_models", "05_universality"]),  # book order, whatever the order asked
        ("4, 10_discussion", ["04_saes", "10_discussion"]),
    ],
)
def test_chapter_selection(selection, expected):
    assert pipeline.chapter_names(selection) == expected


@pytest.mark.parametrize("selection", ["11", "03,intro", ""])
def test_unknown_chapter_is_named(selection):
    with pytest.raises(ParameterError, match="'chapters'"):
        pipeline.chapter_names(selection)


def test_spliced_loss_fits_recover_a_known_power_law():
    n = np.array([1e5, 1e6, 1e7])
    family = pd.DataFrame({"site": "s", "N (12·L·d²)": n, "ce_clean": (2e8 / n) ** 0.07, "ce_spliced": (5e7 / n) ** 0.1})
    fits = ch04_saes.spliced_loss_fits(family).set_index(["source", "loss"])
    assert fits.alpha[("this run", "ce_clean")] == pytest.approx(0.07, rel=1e-9)
    assert fits.n_c[("this run", "ce_spliced")] == pytest.approx(5e7, rel=1e-6)
    assert fits.r_squared[("this run", "ce_spliced")] == pytest.approx(1.0)
    assert set(fits.loc["original run"].index) == {"ce_clean", "ce_spliced"}


def kind_intervals(rows: dict[tuple[str, str], tuple[float, float, float]]) -> pd.DataFrame:
    """A hand-made :func:`universality_suite.kind_intervals` table: (kind, statistic) → (value, low, high)."""
    return pd.DataFrame([{"kind": k, "statistic": s, "value": v, "low": lo, "high": hi} for (k, s), (v, lo, hi) in rows.items()])


@pytest.mark.parametrize(
    ("cross_r", "untrained_r", "partial", "importance", "cross_one", "shared", "width_like_seed"),
    [
        ((0.6, 0.55, 0.65), (0.3, 0.25, 0.35), (0.2, 0.1, 0.3), verdicts.REPRODUCED, (0.5, 0.45, 0.55), verdicts.YES, verdicts.YES),
        ((0.3, 0.26, 0.34), (0.3, 0.25, 0.35), (0.2, 0.1, 0.3), verdicts.INCONCLUSIVE, (0.3, 0.28, 0.32), verdicts.INCONCLUSIVE, verdicts.YES),
        ((0.6, 0.55, 0.65), (0.3, 0.25, 0.35), (-0.2, -0.3, -0.1), verdicts.NOT_REPRODUCED, (0.2, 0.18, 0.22), verdicts.NO, verdicts.YES),
        ((0.6, 0.55, 0.65), (0.3, 0.25, 0.35), (0.2, 0.1, 0.3), verdicts.REPRODUCED, (0.62, 0.58, 0.66), verdicts.YES, verdicts.INCONCLUSIVE),
    ],
)
def test_chapter_5_judges_against_its_same_kind_controls(cross_r, untrained_r, partial, importance, cross_one, shared, width_like_seed):
    """The untrained pair is the floor (one-to-one 0.3 ± 0.02), the seed control the ceiling (0.6 ± 0.04)."""
    table = kind_intervals(
        {
            ("cross-width", "r"): cross_r,
            ("cross-width", "partial_r"): partial,
            ("cross-width", "mean_one_to_one"): cross_one,
            ("untrained pair", "r"): untrained_r,
            ("untrained pair", "mean_one_to_one"): (0.3, 0.28, 0.32),
            ("seed control", "mean_one_to_one"): (0.6, 0.56, 0.64),
        }
    )
    judged = ch05_universality.judge(table)
    assert judged[ch05_universality.IMPORTANCE].verdict == importance
    assert judged[ch05_universality.SHARED].verdict == shared
    assert judged[ch05_universality.WIDTH_LIKE_SEED].verdict == width_like_seed
    assert "untrained" in judged[ch05_universality.SHARED].control


def test_chapter_5_without_its_untrained_pair_says_so():
    judged = ch05_universality.judge(kind_intervals({("cross-width", "r"): (0.6, 0.5, 0.7), ("cross-width", "partial_r"): (0.1, 0.05, 0.15)}))
    assert judged[ch05_universality.IMPORTANCE].verdict == verdicts.NOT_MEASURED
    assert judged[ch05_universality.SHARED].verdict == verdicts.NOT_MEASURED


def r_along(initial: tuple[float, float], final: tuple[float, float]) -> pd.DataFrame:
    """Two directions at step 0 and at the end of the language models' training; (low, high) intervals."""
    rows = []
    for step, fraction, (low, high) in ((0, 0.0, initial), (10, 1.0, final)):
        for scored in ("a", "b"):
            rows.append(
                {
                    "axis": dynamics.LM_AXIS,
                    "lm_step": step,
                    "lm_fraction": fraction,
                    "scored": scored,
                    "r": (low + high) / 2,
                    "r_low": low,
                    "r_high": high,
                }
            )
    return pd.DataFrame(rows)


def test_training_adds_to_r_only_when_the_intervals_separate():
    assert ch06_training_dynamics.untrained_baseline(r_along((0.0, 0.1), (0.2, 0.3))).training_adds
    overlapping = ch06_training_dynamics.untrained_baseline(r_along((0.0, 0.25), (0.2, 0.3)))
    assert not overlapping.training_adds
    assert overlapping.r_untrained == pytest.approx(0.125) and overlapping.r_trained == pytest.approx(0.25)
    later = r_along((0.0, 0.1), (0.2, 0.3)).assign(lm_step=lambda t: t.lm_step + 5)  # no point at initialisation
    assert ch06_training_dynamics.untrained_baseline(later) is None


@pytest.mark.parametrize(("load_ratio", "width_ratio", "follows"), [(3.5, 4.0, True), (1.2, 4.0, False), (2.1, 4.0, True), (1.9, 4.0, False)])
def test_load_reading(load_ratio, width_ratio, follows):
    """Nearer the width ratio than 1 in log: 2 is the geometric midpoint of 1 and 4."""
    assert ch07_equal_n.load_follows_width(load_ratio, width_ratio) is follows


def test_chapter_7_is_inconclusive_when_its_premise_fails():
    met, short = equal_n.BOUND, [equal_n.SAME, equal_n.SHORT, equal_n.OPPOSITE]  # the strings chapter 7 writes
    assert verdicts.bound_rate([met, met], comparable_loss=True) == verdicts.YES
    assert verdicts.bound_rate(short, comparable_loss=True) == verdicts.NO
    assert verdicts.bound_rate(short, comparable_loss=False) == verdicts.INCONCLUSIVE  # shapes 22% apart decide nothing
    assert verdicts.bound_rate([met, met], comparable_loss=False) == verdicts.INCONCLUSIVE
    assert verdicts.bound_rate([met, equal_n.SHORT], comparable_loss=True) == verdicts.INCONCLUSIVE
    assert verdicts.bound_rate([equal_n.SHORT, equal_n.UNDECIDED], comparable_loss=True) == verdicts.INCONCLUSIVE
    assert verdicts.equal_loss(0.02, 0.01) and not verdicts.equal_loss(0.021, 0.01)


def test_relative_depth_of_a_site_and_its_mapping():
    assert ch04_saes.relative_depth("blocks.6.hook_resid_pre", 8) == pytest.approx(0.75)
    assert ch04_saes.relative_depth("blocks.1.hook_mlp_out", 2) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="hook must be"):
        ch04_saes.relative_depth("hook_embed", 8)
    cfg = config_for("quick", "04_saes")
    # the quick family's site in a 2-block model: the nearest block boundary is half way, not three quarters
    assert ch04_saes.mapped_sites(cfg, 2) == [("blocks.6.hook_resid_pre", 0.75, "blocks.1.hook_resid_pre", 0.5)]


def language_models(**overrides):
    """Chapter 3's quick configuration with ``overrides`` (validated)."""
    import dataclasses

    return dataclasses.replace(config_for("quick", "03_language_models"), **overrides)


def test_one_seed_per_width_plans_one_seed_control_and_two_plan_one_per_width():
    from helpers.chapters import model_suite, universality_suite

    one = language_models()
    controls = [p for p in model_suite.plan(one) if p.role == "seed control"]
    assert [(p.name, p.seed) for p in controls] == [("L8-d64-seed1", 1)]
    r = universality_suite.roles_for(one)
    assert r.by_seed == [r.family] and r.controls == {"L8-d64": ["L8-d64-seed1"]} and r.untrained == [[f"L8-d{w}-random" for w in one.widths]]

    two = language_models(seeds_per_width=2)
    controls = [p for p in model_suite.plan(two) if p.role == "seed control"]
    assert [(p.name, p.seed) for p in controls] == [(f"L8-d{w}-seed1", 1) for w in two.widths]
    r = universality_suite.roles_for(two)
    assert r.by_seed[1] == [f"L8-d{w}-seed1" for w in two.widths]
    assert r.controls == {f"L8-d{w}": [f"L8-d{w}-seed1"] for w in two.widths}
    assert r.untrained[1] == [f"L8-d{w}-random-seed1" for w in two.widths]
    assert r.lineage["L8-d96-seed1"] == "L8-d96" and r.lineage["L8-d96-random-seed1"] == "L8-d96-random"
    assert model_suite.seed_models(language_models(seeds_per_width=3))[32] == ["L8-d32", "L8-d32-seed1", "L8-d32-seed2"]


def test_a_control_seed_equal_to_the_first_seed_is_refused():
    with pytest.raises(ParameterError, match="control_seed"):
        language_models(seed=2, control_seed=1, seeds_per_width=3).validate()  # control seeds 1, 2 include seed 2


def models_table(rows):
    return pd.DataFrame(rows, columns=["model", "role", "n_layers", "d_model", "seed", "final_val_loss"])


def test_seed_gaps_and_the_loss_laws_points_by_hand():
    from helpers.chapters import ch03_language_models, model_suite

    lone = models_table(
        [
            ("L8-d32", "family", 8, 32, 0, 5.0),
            ("L8-d64", "family", 8, 64, 0, 4.6),
            ("L2-d128", "pair", 2, 128, 0, 4.9),
            ("L8-d64-seed1", "seed control", 8, 64, 1, 4.7),
        ]
    )
    gaps = model_suite.seed_gaps(lone)
    assert gaps.model.tolist() == ["L8-d64-seed1"] and gaps.gap.iloc[0] == pytest.approx(0.1)
    assert ch03_language_models.family_over_seeds(lone).model.tolist() == ["L8-d32", "L8-d64"]  # a lone control is no replicate
    balanced = pd.concat([lone, models_table([("L8-d32-seed1", "seed control", 8, 32, 1, 5.3)])])
    assert ch03_language_models.family_over_seeds(balanced).model.tolist() == ["L8-d32", "L8-d32-seed1", "L8-d64", "L8-d64-seed1"]
    assert model_suite.seed_gaps(balanced).gap.mean() == pytest.approx((0.1 + 0.3) / 2)
    assert ch05_universality.seed_gap(balanced) == pytest.approx(0.2)
    choices = ch03_language_models.seed_combinations(ch03_language_models.family_over_seeds(balanced), seed=0)
    assert sorted(tuple(c.model) for c in choices) == sorted(
        [("L8-d32", "L8-d64"), ("L8-d32", "L8-d64-seed1"), ("L8-d32-seed1", "L8-d64"), ("L8-d32-seed1", "L8-d64-seed1")]
    )


def test_chapter_7s_premise_failure_names_what_failed():
    from helpers.chapters.ch10_discussion import premise_failure

    apart = {"relative_gap": 0.11, "tolerance": 0.03}
    assert premise_failure(apart) == "losses 11% apart"
    straddled = {"relative_gap": 0.008, "tolerance": 0.03, "largest_model_gap": 0.0423, "farthest_model": "L2-d128-seed1"}
    assert premise_failure(straddled) == "L2-d128-seed1 4.2% from the common loss"
    assert premise_failure({**straddled, "relative_gap": 0.05}) == "losses 5% apart"
