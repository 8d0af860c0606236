"""The chapters' own rules (helpers.chapters and the verdicts they apply), each against hand-built
inputs whose answer is known; the chapters' full computations run in test_notebooks.py, where the
pipeline is also checked against the notebooks byte for byte."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from helpers import pipeline
from helpers.chapters import ch04_saes, ch05_universality, ch06_training_dynamics, ch07_equal_n, dynamics, equal_n, module, verdicts
from helpers.chapters.configs import CONFIGS
from helpers.core.parameters import ParameterError
from helpers.publish import toc


def test_every_chapter_has_one_compute_module_in_book_order():
    assert toc.chapters_in_book_order() == list(CONFIGS)  # the pipeline runs chapters in the book's order
    for chapter in CONFIGS:
        assert callable(module(chapter).compute)
    with pytest.raises(KeyError, match="09_sequel"):
        module("09_sequel")


@pytest.mark.parametrize(
    ("selection", "expected"),
    [
        (None, list(CONFIGS)),
        ("05,03", ["03_language_models", "05_universality"]),  # book order, whatever the order asked
        ("4, 08_discussion", ["04_saes", "08_discussion"]),
    ],
)
def test_chapter_selection(selection, expected):
    assert pipeline.chapter_names(selection) == expected


@pytest.mark.parametrize("selection", ["09", "03,intro", ""])
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


def controls_and_summary(cross_means: list[float]) -> tuple[pd.DataFrame, pd.DataFrame]:
    controls = pd.DataFrame({"kind": ["token identity", "random model", "shuffled", "SAE seed"], "mean_universality": [0.40, 0.30, 0.02, 0.90]})
    summary = pd.DataFrame({"site": "s", "kind": ["cross-width"] * len(cross_means) + ["SAE seed"], "mean_universality": [*cross_means, 0.9]})
    return controls, summary


@pytest.mark.parametrize(("cross_means", "answer"), [([0.5, 0.6], verdicts.YES), ([0.1, 0.35], verdicts.NO), ([0.35, 0.6], verdicts.INCONCLUSIVE)])
def test_shared_latents_are_judged_against_the_highest_floor(cross_means, answer):
    floors, shared = ch05_universality.shared_beyond_floors(*controls_and_summary(cross_means), "s")
    assert floors == {"token identity": 0.40, "random model": 0.30, "shuffled": 0.02}
    assert shared.verdict == answer


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


def test_chapter_8_rules():
    assert verdicts.top_fraction("reproduced") == verdicts.REPRODUCED
    assert verdicts.top_fraction("not reproduced") == verdicts.NOT_REPRODUCED
    assert verdicts.top_fraction("inconclusive: 5 of 15 fits R² < 0.8") == verdicts.INCONCLUSIVE
    assert [verdicts.every_case(s, 3) for s in (3, 0, 2)] == [verdicts.YES, verdicts.NO, verdicts.INCONCLUSIVE]
    assert verdicts.every_case(0, 0) == verdicts.NO  # nothing measured is not a success
    met, short = equal_n.BOUND, [equal_n.SAME, equal_n.SHORT, equal_n.OPPOSITE]  # the strings chapter 7 writes
    assert verdicts.bound_rate([met, met]) == verdicts.YES
    assert verdicts.bound_rate(short) == verdicts.NO
    assert verdicts.bound_rate([met, equal_n.SHORT]) == verdicts.INCONCLUSIVE
    assert verdicts.bound_rate([equal_n.SHORT, equal_n.UNDECIDED]) == verdicts.INCONCLUSIVE
    assert verdicts.equal_loss(0.02, 0.01) and not verdicts.equal_loss(0.021, 0.01)
