"""The verdict rules (helpers.chapters.verdicts) on hand-made inputs: every outcome of every rule,
including a measurement that equals its same-kind control, and the laws they compare against
closed forms."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from helpers.chapters import universality_suite, verdicts
from helpers.chapters.verdicts import Interval
from helpers.theory import scaling


def test_intervals_decide_only_when_they_separate():
    floor = Interval(0.30, 0.25, 0.35)
    assert verdicts.against_control(Interval(0.5, 0.4, 0.6), floor) == verdicts.REPRODUCED
    assert verdicts.against_control(Interval(0.1, 0.05, 0.2), floor) == verdicts.NOT_REPRODUCED
    assert verdicts.against_control(Interval(0.30, 0.25, 0.35), floor) == verdicts.INCONCLUSIVE  # equal to its floor
    assert verdicts.against_control(Interval(0.36, 0.34, 0.40), floor) == verdicts.INCONCLUSIVE  # touching is overlapping
    assert verdicts.against_control(Interval(0.5, 0.4, 0.6), None) == verdicts.NOT_MEASURED
    assert verdicts.against_control(Interval(0.5, 0.4, 0.6), floor, claim=False) == verdicts.YES


@pytest.mark.parametrize(
    ("cross", "untrained", "partial", "expected"),
    [
        ((0.6, 0.5, 0.7), (0.3, 0.25, 0.35), (0.1, 0.05, 0.15), verdicts.REPRODUCED),
        ((0.28, 0.25, 0.31), (0.28, 0.25, 0.31), (0.1, 0.05, 0.15), verdicts.INCONCLUSIVE),  # r equals the untrained pair's
        ((0.6, 0.5, 0.7), (0.3, 0.25, 0.35), (0.0, -0.05, 0.05), verdicts.INCONCLUSIVE),  # nothing beyond frequency and tokens
        ((0.27, 0.24, 0.30), (0.30, 0.28, 0.33), (-0.16, -0.2, -0.12), verdicts.NOT_REPRODUCED),  # the study rung's shape
        ((0.1, 0.05, 0.15), (0.3, 0.25, 0.35), (0.1, 0.05, 0.15), verdicts.NOT_REPRODUCED),  # below the untrained pair
    ],
)
def test_importance_against_the_untrained_pair_and_the_partial_r(cross, untrained, partial, expected):
    judged = verdicts.importance_predicts_universality(Interval(*cross), Interval(*untrained), Interval(*partial))
    assert judged.verdict == expected
    assert "untrained" in judged.control and "partial r" in judged.reason


def test_shared_latents_place_the_measurement_between_floor_and_ceiling():
    judged = verdicts.shared_beyond_floor(Interval(0.45, 0.42, 0.48), Interval(0.30, 0.28, 0.32), Interval(0.60, 0.57, 0.63))
    assert judged.verdict == verdicts.YES and "50% of the way" in judged.reason
    assert verdicts.shared_beyond_floor(Interval(0.3, 0.28, 0.32), Interval(0.3, 0.28, 0.32), None).verdict == verdicts.INCONCLUSIVE
    assert verdicts.shared_beyond_floor(Interval(0.2, 0.18, 0.22), Interval(0.3, 0.28, 0.32), None).verdict == verdicts.NO
    assert verdicts.floor_to_ceiling(0.5, 0.5, 0.5) != verdicts.floor_to_ceiling(0.5, 0.5, 0.5)  # NaN when floor = ceiling
    # the study rung's shape: the untrained floor above the seed-control ceiling has no "way" between them
    upside_down = verdicts.shared_beyond_floor(Interval(0.387, 0.346, 0.473), Interval(0.497, 0.463, 0.531), Interval(0.427, 0.424, 0.431))
    assert upside_down.verdict == verdicts.INCONCLUSIVE and "of the way" not in upside_down.reason
    assert "the untrained floor is not below the seed-control ceiling" in upside_down.reason


def test_width_against_the_seed_control():
    seed = Interval(0.55, 0.52, 0.58)
    assert verdicts.width_like_seed(Interval(0.40, 0.37, 0.43), seed).verdict == verdicts.YES
    assert verdicts.width_like_seed(Interval(0.53, 0.50, 0.56), seed).verdict == verdicts.INCONCLUSIVE
    assert verdicts.width_like_seed(Interval(0.70, 0.65, 0.75), seed).verdict == verdicts.NO
    assert verdicts.width_like_seed(Interval(0.70, 0.65, 0.75), None).verdict == verdicts.NOT_MEASURED


def losses_and_verdict(widths: np.ndarray, losses: np.ndarray) -> verdicts.Verdict:
    n = 12 * 8 * widths.astype(float) ** 2
    power, alternative = scaling.fit_power_law_on_loss(n, losses), scaling.fit_inverse_width(widths, losses)
    return verdicts.loss_law(power.aic, alternative.aic, power.r_squared, alternative.r_squared, len(widths))


def test_the_loss_law_against_an_alternative_of_as_many_parameters():
    widths = np.array([32, 48, 64, 96, 128, 192])
    n = 12 * 8 * widths.astype(float) ** 2
    assert losses_and_verdict(widths, (3e13 / n) ** 0.08).verdict == verdicts.REPRODUCED
    assert losses_and_verdict(widths, 4.46 + 55 / widths).verdict == verdicts.NOT_REPRODUCED
    # four points that both laws pass through within noise: indistinguishable
    rng = np.random.default_rng(0)
    few = np.array([64, 96, 128, 192])
    blend = 0.5 * (4.46 + 55 / few) + 0.5 * (3.2e12 / (12 * 8 * few**2.0)) ** 0.075
    assert losses_and_verdict(few, blend + rng.normal(0, 0.03, 4)).verdict == verdicts.INCONCLUSIVE


def test_two_widths_decide_nothing():
    assert losses_and_verdict(np.array([16, 32]), np.array([6.0, 5.5])).verdict == verdicts.INCONCLUSIVE


def test_least_squares_laws_recover_their_parameters_and_aic():
    d = np.array([32.0, 64.0, 128.0, 256.0])
    fit = scaling.fit_inverse_width(d, 2.0 + 40 / d)
    assert fit.parameters["l_inf"] == pytest.approx(2.0) and fit.parameters["a"] == pytest.approx(40.0)
    power = scaling.fit_power_law_on_loss(d**2, (1e6 / d**2) ** 0.1)
    assert power.parameters["alpha"] == pytest.approx(0.1, rel=1e-6) and power.r_squared == pytest.approx(1.0)
    rss = 0.02
    by_hand = scaling.LeastSquaresFit("x", {"a": 1.0, "b": 2.0}, rss, 0.9, 4, 2)
    assert by_hand.aic == pytest.approx(4 * np.log(rss / 4) + 4)


def test_kaplan_terms_by_hand():
    n_term, data_term = scaling.kaplan_terms(1e6, 2e6)
    law = scaling.KAPLAN_2020
    assert n_term == pytest.approx((law.n_c / 1e6) ** (law.alpha_n / law.alpha_d))
    assert data_term == pytest.approx(law.d_c / 2e6)
    assert (n_term + data_term) ** law.alpha_d == pytest.approx(law.loss(1e6, 2e6))


def test_shared_latents_against_random_subsets_and_the_seed_gap():
    def wins(*values: tuple[float, float, float]) -> list[Interval]:
        return [Interval(*v) for v in values]

    assert verdicts.shared_beats_random(wins((0.05, 0.04, 0.06), (0.06, 0.05, 0.07)), 0.034).verdict == verdicts.YES
    # the study rung's wins of 0.005-0.009 nats sit within what a seed moves
    assert verdicts.shared_beats_random(wins((0.005, 0.005, 0.005), (0.009, 0.009, 0.009)), 0.034).verdict == verdicts.INCONCLUSIVE
    # a mean win beyond the seed gap whose draws spread below it decides nothing
    assert verdicts.shared_beats_random(wins((0.05, 0.02, 0.08), (0.06, 0.05, 0.07)), 0.034).verdict == verdicts.INCONCLUSIVE
    assert verdicts.shared_beats_random(wins((-0.05, -0.06, -0.04), (-0.04, -0.05, -0.035)), 0.034).verdict == verdicts.NO
    assert verdicts.shared_beats_random(wins((0.05, 0.04, 0.06)), None).verdict == verdicts.NOT_MEASURED


def slopes(alpha_top: list[float], alpha_random: list[float], r2: float = 0.99) -> pd.DataFrame:
    shares = [0.1, 0.4, 0.8, 1.0]
    rows = []
    for rule, alphas in (("most important", alpha_top), ("random", alpha_random), ("least important", alpha_random)):
        rows += [{"rule": rule, "keep_fraction": x, "alpha": a, "r_squared": r2} for x, a in zip(shares, [*alphas, 0.05])]
    return pd.DataFrame(rows)


def test_top_fraction_rule_reads_the_trend_against_the_talks():
    rising_below = universality_suite.fraction_verdict(slopes([0.02, 0.05, 0.09], [0.10, 0.10, 0.10]))
    assert rising_below.verdict == verdicts.REPRODUCED
    falling = universality_suite.fraction_verdict(slopes([0.080, 0.060, 0.051], [0.10, 0.10, 0.10]))
    assert falling.verdict == verdicts.NOT_REPRODUCED and "falls" in falling.reason
    rising_above = universality_suite.fraction_verdict(slopes([0.02, 0.05, 0.09], [0.01, 0.01, 0.01]))
    assert rising_above.verdict == verdicts.INCONCLUSIVE
    poor = universality_suite.fraction_verdict(slopes([0.02, 0.05, 0.09], [0.1, 0.1, 0.1], r2=0.5))
    assert poor.verdict == verdicts.INCONCLUSIVE and "too poor" in poor.reason


def test_slope_against_log_training_fraction_by_hand():
    fractions = np.array([0.25, 0.5, 1.0])
    r = 0.2 + 0.1 * np.log(fractions)  # exactly 0.1 per e-fold
    slope = verdicts.slope_interval(fractions, r, r - 1e-6, r + 1e-6)
    assert slope.value == pytest.approx(0.1) and slope.low == pytest.approx(0.1, abs=1e-4) and slope.high == pytest.approx(0.1, abs=1e-4)
    wide = verdicts.slope_interval(fractions, r, r - 0.5, r + 0.5)
    assert wide.low < 0 < wide.high
    assert verdicts.trend(slope).verdict == verdicts.YES
    assert verdicts.trend(wide).verdict == verdicts.INCONCLUSIVE
    assert verdicts.trend(verdicts.slope_interval(fractions, -r, -r - 1e-6, -r + 1e-6)).verdict == verdicts.NO
    assert verdicts.trend(verdicts.slope_interval(fractions[:1], r[:1], r[:1], r[:1])).verdict == verdicts.INCONCLUSIVE


def test_a_hump_is_an_inner_point_above_both_ends():
    points = [Interval(0.29, 0.26, 0.32), Interval(0.42, 0.39, 0.45), Interval(0.33, 0.30, 0.35), Interval(0.29, 0.25, 0.33)]
    assert verdicts.hump(points) == 1  # chapter 6's study rung: r 0.41/0.44 at a quarter, above both ends
    assert verdicts.hump(points[2:]) is None
    assert verdicts.hump([Interval(0.3, 0.2, 0.4), Interval(0.35, 0.3, 0.4), Interval(0.3, 0.2, 0.4)]) is None


def test_the_loss_law_needs_every_choice_of_seeds_to_agree():
    """With several seeds per width, one choice of seeds against the margin decides nothing."""
    agree = verdicts.loss_law(0.0, 5.0, 0.99, 0.95, 4, seed_range=(3.0, 6.0))
    assert agree.verdict == verdicts.REPRODUCED and "+3.0 to +6.0" in agree.reason
    straddle = verdicts.loss_law(0.0, 5.0, 0.99, 0.95, 4, seed_range=(-1.0, 6.0))
    assert straddle.verdict == verdicts.INCONCLUSIVE
    against = verdicts.loss_law(5.0, 0.0, 0.95, 0.99, 4, seed_range=(-7.0, -2.5))
    assert against.verdict == verdicts.NOT_REPRODUCED
    pooled_only = verdicts.loss_law(5.0, 0.0, 0.95, 0.99, 4, seed_range=(-7.0, 1.0))
    assert pooled_only.verdict == verdicts.INCONCLUSIVE
