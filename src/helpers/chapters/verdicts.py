"""The rules that turn measurements into verdicts, in one place, each able to fail both ways.

A verdict is "reproduced", "not reproduced" or "inconclusive at this scale" for a claim the talk
made, and "yes", "no" or "inconclusive at this scale" for a new measurement the talk did not make.
Every rule compares *intervals*, never point values, with a control of the same kind (an untrained
pair of the same widths, another seed of the same width), and says "inconclusive" when the
intervals overlap, when a premise fails, or when the control was not measured at the rung.
Every rule states itself in words (``Verdict.rule``), names the control it was judged against
(``Verdict.control``) and the numbers that decided it (``Verdict.reason``), so the book prints all
three.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

REPRODUCED, NOT_REPRODUCED, INCONCLUSIVE = "reproduced", "not reproduced", "inconclusive at this scale"
YES, NO = "yes", "no"
#: What a rule says of a rung that lacks the control it needs (a bundle made before the control existed).
NOT_MEASURED = "not measured at this rung"

#: An information-criterion difference below this is "indistinguishable" (Burnham & Anderson's rule of thumb).
AIC_MARGIN = 2.0


@dataclass(frozen=True)
class Interval:
    """A value with its interval; ``covers`` says what the interval resamples (for captions)."""

    value: float
    low: float
    high: float
    covers: str = ""

    def text(self, digits: int = 3) -> str:
        return f"{self.value:.{digits}f} [{self.low:.{digits}f}, {self.high:.{digits}f}]"

    @property
    def finite(self) -> bool:
        return all(math.isfinite(v) for v in (self.value, self.low, self.high))


@dataclass(frozen=True)
class Verdict:
    verdict: str
    rule: str
    control: str = ""  # the control the measurement was judged against
    reason: str = ""  # the numbers that decided it


def above(a: Interval, b: Interval) -> bool:
    """a's interval lies wholly above b's."""
    return a.low > b.high


def claim_word(holds: bool | None, claim: bool) -> str:
    """The verdict's word: holds (True), fails (False) or neither (None), for a claim or a new measurement."""
    if holds is None:
        return INCONCLUSIVE
    if holds:
        return REPRODUCED if claim else YES
    return NOT_REPRODUCED if claim else NO


def against_control(value: Interval, control: Interval | None, claim: bool = True) -> str:
    """Above the control when the whole interval is, below when the whole interval is beneath it,
    inconclusive when they overlap; :data:`NOT_MEASURED` without a control."""
    if control is None or not control.finite or not value.finite:
        return NOT_MEASURED
    if above(value, control):
        return claim_word(True, claim)
    if above(control, value):
        return claim_word(False, claim)
    return INCONCLUSIVE


def against_zero(value: Interval, claim: bool = True) -> str:
    """Above zero when the whole interval is, below when the whole interval is, else inconclusive."""
    return against_control(value, Interval(0.0, 0.0, 0.0), claim)


# --------------------------------------------------------------------------------------------
# Chapter 5: importance → universality, and latents shared across widths.

IMPORTANCE_RULE = (
    "reproduced when the interval of the mean cross-width r lies wholly above the untrained pair's "
    "(same widths, SAEs trained the same way) and the partial r after log frequency and token-likeness "
    "lies wholly above 0; not reproduced when either lies wholly below; otherwise inconclusive"
)


def importance_predicts_universality(cross: Interval, untrained: Interval | None, partial: Interval | None) -> Verdict:
    """The talk's claim: a latent's importance predicts its universality, beyond what an untrained
    model of the same widths and a latent's frequency and token identity already give."""
    control = "untrained pair of the same widths; partial r (log frequency, token-likeness)"
    if untrained is None or partial is None:
        return Verdict(NOT_MEASURED, IMPORTANCE_RULE, control, "the untrained pair or the partial r was not measured")
    floor, beyond = against_control(cross, untrained), against_zero(partial)
    reason = f"r {cross.text()} vs untrained {untrained.text()} ({floor}); partial r {partial.text()} ({beyond})"
    if NOT_MEASURED in (floor, beyond):
        return Verdict(NOT_MEASURED, IMPORTANCE_RULE, control, reason)
    if NOT_REPRODUCED in (floor, beyond):
        return Verdict(NOT_REPRODUCED, IMPORTANCE_RULE, control, reason)
    if floor == beyond == REPRODUCED:
        return Verdict(REPRODUCED, IMPORTANCE_RULE, control, reason)
    return Verdict(INCONCLUSIVE, IMPORTANCE_RULE, control, reason)


SHARED_RULE = (
    "yes when the interval of the cross-width one-to-one universality lies wholly above the untrained "
    "pair's, no when wholly below, otherwise inconclusive; where it lies between that floor and the "
    "seed-control ceiling is reported beside it"
)


def floor_to_ceiling(value: float, floor: float, ceiling: float) -> float:
    """Where ``value`` lies between ``floor`` (0) and ``ceiling`` (1); NaN when they coincide."""
    return (value - floor) / (ceiling - floor) if ceiling != floor else float("nan")


def shared_beyond_floor(cross: Interval, untrained: Interval | None, ceiling: Interval | None) -> Verdict:
    """A new measurement: are latents shared across widths beyond what SAEs of untrained models of the
    same widths share (one-to-one matching, so that many latents on one partner count once)?"""
    control = "untrained pair of the same widths (floor); seed control (ceiling)"
    answer = against_control(cross, untrained, claim=False)
    if answer == NOT_MEASURED:
        return Verdict(NOT_MEASURED, SHARED_RULE, control, "the untrained pair was not measured")
    reason = f"one-to-one {cross.text()} vs untrained {untrained.text()}"
    if ceiling is not None and ceiling.finite and ceiling.value > untrained.value:
        share = round(floor_to_ceiling(cross.value, untrained.value, ceiling.value), 2) + 0.0  # no "-0%"
        reason += f", seed control {ceiling.text()}: {share:.0%} of the way from floor to ceiling"
    elif ceiling is not None and ceiling.finite:  # a share of a negative span would read as progress
        reason += f", seed control {ceiling.text()}: the untrained floor is not below the seed-control ceiling"
    return Verdict(answer, SHARED_RULE, control, reason)


WIDTH_RULE = (
    "yes when the cross-width interval lies wholly below the seed control's (width changes the latents more than a "
    "language-model seed does), no when wholly above, otherwise inconclusive"
)


def width_like_seed(cross: Interval, seed_control: Interval | None) -> Verdict:
    """A new measurement: do latents change across widths more than across language-model seeds of
    one width? Yes when cross-width lies wholly below the seed control, no when wholly above."""
    control = "another language-model seed of the same width"
    if seed_control is None or not seed_control.finite:
        return Verdict(NOT_MEASURED, WIDTH_RULE, control, "the seed control was not measured")
    answer = against_control(seed_control, cross, claim=False)
    return Verdict(answer, WIDTH_RULE, control, f"one-to-one: cross-width {cross.text()} vs seed control {seed_control.text()}")


STEEPER_RULE = "yes when the interval of α_spliced − α_clean lies wholly above 0, no when wholly below, otherwise inconclusive"


def steeper(difference: Interval) -> Verdict:
    """A new measurement: do spliced losses scale more steeply with N than clean ones?"""
    answer = against_zero(difference, claim=False)
    if answer == NOT_MEASURED:  # too few widths for an interval
        return Verdict(
            INCONCLUSIVE, STEEPER_RULE, "equal exponents", f"α_spliced − α_clean = {difference.value:.4f}, no interval with fewer than three widths"
        )
    return Verdict(answer, STEEPER_RULE, "equal exponents", f"α_spliced − α_clean = {difference.text(4)}")


# --------------------------------------------------------------------------------------------
# Chapter 3: the loss law against an alternative of as many parameters.

LOSS_LAW_RULE = (
    f"reproduced when the power law in N beats L∞ + A/d (as many parameters) by ΔAIC ≥ {AIC_MARGIN:g}, "
    f"not reproduced when the alternative beats it by as much, otherwise inconclusive (indistinguishable); "
    f"with several language-model seeds per width, every choice of one seed per width must agree"
)


def loss_law(
    power_aic: float, alternative_aic: float, power_r2: float, alternative_r2: float, points: int = 4, seed_range: tuple[float, float] | None = None
) -> Verdict:
    """The talk's loss law: is a power law in N a better description of the family's losses than
    L∞ + A/d? Both are fitted to the same ``points`` losses by least squares; R² alone cannot fail
    on four monotone points, the information criterion can. Two points fit both laws exactly.
    ``seed_range`` is the (lowest, highest) ΔAIC over the fits to one language-model seed per width
    (every combination): the verdict then needs every one of them on the same side of the margin."""
    if points <= 2:
        return Verdict(INCONCLUSIVE, LOSS_LAW_RULE, "L∞ + A/d, two parameters", f"{points} widths: both two-parameter laws pass through every point")
    delta = alternative_aic - power_aic
    deltas = [delta, *(seed_range or ())]
    holds = True if min(deltas) >= AIC_MARGIN else False if max(deltas) <= -AIC_MARGIN else None
    reason = f"ΔAIC = {delta:+.1f} (power law R² = {power_r2:.3f}, L∞ + A/d R² = {alternative_r2:.3f})"
    if seed_range is not None:
        reason += f"; ΔAIC {seed_range[0]:+.1f} to {seed_range[1]:+.1f} over the fits to each choice of one language-model seed per width"
    return Verdict(claim_word(holds, True), LOSS_LAW_RULE, "L∞ + A/d, two parameters", reason)


# --------------------------------------------------------------------------------------------
# Chapter 5's splices.

SPLIT_RULE = (
    "yes when, at every width pair, the shared latents' loss beats random subsets of the same size and firing "
    "frequencies by more than the language-model seed gap across the draws' 95% spread; no when the random "
    "subsets win by as much at every pair; otherwise inconclusive"
)


def shared_beats_random(wins: list[Interval], seed_gap: float | None) -> Verdict:
    """A new measurement: do the wider model's latents shared with the narrower one close more of
    the gap than a random subset of the same size? ``wins[k]`` = L(random) − L(shared) in nats per
    width pair, its interval the spread of the random draws (zero width for a single draw);
    ``seed_gap`` = the loss gap of two seeds of one width (what a seed alone moves)."""
    control = "random subsets of the same size and firing frequencies (their spread), against the language-model seed gap"
    if seed_gap is None or not math.isfinite(seed_gap) or not wins:
        return Verdict(NOT_MEASURED, SPLIT_RULE, control, "no seed gap or no width pair")
    beyond = sum(w.low > seed_gap for w in wins)
    behind = sum(w.high < -seed_gap for w in wins)
    holds = True if beyond == len(wins) else False if behind == len(wins) else None
    reason = (
        f"{beyond} of {len(wins)} pairs win by more than the seed gap {seed_gap:.3f} nats over every draw's spread "
        f"(mean wins {min(w.value for w in wins):.3f} to {max(w.value for w in wins):.3f})"
    )
    return Verdict(claim_word(holds, False), SPLIT_RULE, control, reason)


TOP_FRACTION_RULE = (
    "reproduced when α(top x%) lies below both controls (every draw but the lowest 2.5% of the random x%, and the "
    "least-important x%) at every x < 1 and "
    "rises with x as the talk's did; not reproduced when it falls with x; otherwise inconclusive "
    "(each power law with R² ≥ the stated minimum)"
)


def top_fraction(below_everywhere: bool, rising: bool | None, poor_fits: int) -> Verdict:
    """The talk's "larger models store more features": the exponent of the top-x% loss rises with x.
    ``rising`` is the direction of α(top x%) against x (None when undetermined)."""
    control = "random x% (below the 2.5% quantile of its draws) and least-important x% of the latents"
    if poor_fits:
        return Verdict(INCONCLUSIVE, TOP_FRACTION_RULE, control, f"{poor_fits} power-law fits too poor to read")
    holds = True if (below_everywhere and rising) else False if rising is False else None
    direction = {True: "rises", False: "falls", None: "undetermined"}[rising]
    reason = f"α(top x%) {direction} with x; below both controls at every x: {'yes' if below_everywhere else 'no'}"
    return Verdict(claim_word(holds, True), TOP_FRACTION_RULE, control, reason)


# --------------------------------------------------------------------------------------------
# Chapter 6: r along training.

TREND_RULE = (
    "yes when the interval of the slope of r against log training fraction (over every trained point of the axis) "
    "lies wholly above 0, no when wholly below, otherwise inconclusive; a hump (an inner point wholly above both "
    "ends) is reported beside it"
)


def slope_interval(fractions: np.ndarray, r: np.ndarray, r_low: np.ndarray, r_high: np.ndarray, samples: int = 2000, seed: int = 0) -> Interval:
    """The least-squares slope of r against log(fraction) over points (n,), with a 95% interval from
    draws of every point's r from a normal whose 95% interval is [r_low, r_high]."""
    x = np.log(np.asarray(fractions, dtype=np.float64))
    r, low, high = (np.asarray(v, dtype=np.float64) for v in (r, r_low, r_high))
    if len(x) < 2 or np.ptp(x) == 0:
        return Interval(float("nan"), float("nan"), float("nan"), "fewer than two trained points")
    centred = x - x.mean()
    slope = float(centred @ (r - r.mean()) / (centred @ centred))
    scale = (high - low) / (2 * 1.959963984540054)
    draws = np.random.default_rng(seed).normal(r, scale, size=(samples, len(r)))
    slopes = (draws - draws.mean(axis=1, keepdims=True)) @ centred / (centred @ centred)
    lo, hi = np.quantile(slopes, [0.025, 0.975])
    return Interval(slope, float(lo), float(hi), "each point's interval over latents")


def hump(points: list[Interval]) -> int | None:
    """The index of an inner point whose interval lies wholly above both end points', else None."""
    inner = [k for k in range(1, len(points) - 1) if above(points[k], points[0]) and above(points[k], points[-1])]
    return max(inner, key=lambda k: points[k].value) if inner else None


def trend(slope: Interval, hump_at: float | None = None) -> Verdict:
    """A new measurement: does r grow as the models (or the SAEs) train?"""
    answer = against_zero(slope, claim=False)
    if answer == NOT_MEASURED:
        return Verdict(INCONCLUSIVE, TREND_RULE, "zero slope", slope.covers)
    reason = f"slope per e-fold of training {slope.text()}" + (f"; a hump at {hump_at:.0%} of training" if hump_at is not None else "")
    return Verdict(answer, TREND_RULE, "zero slope", reason)


# --------------------------------------------------------------------------------------------
# Chapter 7: shapes of equal N.

#: Chapter 7's frequency-shift verdicts (``helpers.chapters.equal_n.shift_verdict``): the bound's rate, the
#: same rate, short of the bound, opposite to it, and undecided (an input is NaN).
SHIFT_BOUND, SHIFT_SAME, SHIFT_SHORT, SHIFT_OPPOSITE, SHIFT_UNDECIDED = (
    "the bound's rate",
    "the same rate",
    "short of the bound",
    "opposite to the bound",
    "undecided",
)


def bound_rate(shift_verdicts: list[str], comparable_loss: bool) -> str:
    """Do latents matched across equal-N shapes fire at the bound's rate? Inconclusive whenever the
    shapes are not at comparable loss (the premise of the note's argument fails); otherwise yes when
    every pair of shapes says so, no when every pair falls short of it (same rate, short, opposite)."""
    if not comparable_loss:
        return INCONCLUSIVE
    if all(v == SHIFT_BOUND for v in shift_verdicts):
        return YES
    if all(v in (SHIFT_SAME, SHIFT_SHORT, SHIFT_OPPOSITE) for v in shift_verdicts):
        return NO
    return INCONCLUSIVE


#: How many seed gaps an equal-N pair's loss gap may span and still count as "equal loss".
PAIR_SEED_GAPS = 2


def equal_loss(pair_gap: float, seed_gap: float) -> bool:
    """The premise "equal N, equal loss": the pair's loss gap is within PAIR_SEED_GAPS seed gaps."""
    return pair_gap <= PAIR_SEED_GAPS * seed_gap
