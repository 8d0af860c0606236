"""The rules that turn measurements into verdicts, in one place, each able to fail.

A verdict is "reproduced", "not reproduced" or "inconclusive at this scale" for a claim the talk
made, and "yes", "no" or "inconclusive at this scale" for a new measurement the talk did not make.
Every rule states itself in words (``Verdict.rule``), so the book prints the rule it applied.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

REPRODUCED, NOT_REPRODUCED, INCONCLUSIVE = "reproduced", "not reproduced", "inconclusive at this scale"
YES, NO = "yes", "no"

#: r the talk's claim needs (its table: 0.64 to 0.78; we ask for a clearly positive, large r).
IMPORTANCE_R = 0.5
#: R² a power law needs before its exponent is read.
POWER_LAW_R2 = 0.95


@dataclass(frozen=True)
class Verdict:
    verdict: str
    rule: str


def interval_against(low: float, high: float, threshold: float, claim: bool = True) -> str:
    """Above ``threshold`` when the whole interval is, below when the whole interval is, else inconclusive."""
    if low >= threshold:
        return REPRODUCED if claim else YES
    if high < threshold:
        return NOT_REPRODUCED if claim else NO
    return INCONCLUSIVE


def power_law(r_squared: float) -> Verdict:
    """The talk's loss law: a power law in N fits the family's losses."""
    verdict = REPRODUCED if r_squared >= POWER_LAW_R2 else NOT_REPRODUCED
    return Verdict(verdict, f"R² ≥ {POWER_LAW_R2:g}")


def importance_predicts_universality(r_low: float, r_high: float) -> Verdict:
    """Mean cross-width r(importance, universality), its interval over SAE seeds and latents."""
    return Verdict(
        interval_against(r_low, r_high, IMPORTANCE_R),
        f"interval of the mean r above {IMPORTANCE_R:g}: reproduced; below: not; straddling: inconclusive",
    )


def beyond_floors(cross: float, cross_low: float, cross_high: float, floors: Mapping[str, float]) -> Verdict:
    """A new measurement: is the cross-width value above every floor? ``cross_low``/``cross_high``
    span the cross-width comparisons (over pairs and SAE seeds)."""
    highest = max(floors.values())
    rule = "every cross-width comparison above the highest floor (" + ", ".join(floors) + "): yes; every one below: no"
    if cross_low > highest:
        return Verdict(YES, rule)
    if cross_high < highest:
        return Verdict(NO, rule)
    return Verdict(INCONCLUSIVE, rule)


def beats_control(value: float, control: float, spread: float, claim: bool = True) -> Verdict:
    """``value`` against a ``control`` measured the same way, with ``spread`` its run-to-run scale:
    above by more than the spread, below by more than it, or within."""
    rule = "differs from its control by more than the control's spread"
    if value > control + spread:
        return Verdict(REPRODUCED if claim else YES, rule)
    if value < control - spread:
        return Verdict(NOT_REPRODUCED if claim else NO, rule)
    return Verdict(INCONCLUSIVE, rule)


def top_fraction(verdict: str) -> str:
    """Chapter 5's top-x% rule (``reproduced``/``not reproduced``/``inconclusive…``) as a claim's verdict."""
    return {"reproduced": REPRODUCED, "not reproduced": NOT_REPRODUCED}.get(verdict, INCONCLUSIVE)


def every_case(successes: int, cases: int) -> str:
    """A new measurement counted over ``cases``: yes when every case succeeds, no when none does."""
    if cases > 0 and successes == cases:
        return YES
    if successes == 0:
        return NO
    return INCONCLUSIVE


#: Chapter 7's frequency-shift verdicts (``helpers.chapters.equal_n.shift_verdict``): the bound's rate, the
#: same rate, short of the bound, opposite to it, and undecided (an input is NaN).
SHIFT_BOUND, SHIFT_SAME, SHIFT_SHORT, SHIFT_OPPOSITE, SHIFT_UNDECIDED = (
    "the bound's rate",
    "the same rate",
    "short of the bound",
    "opposite to the bound",
    "undecided",
)


def bound_rate(shift_verdicts: list[str]) -> str:
    """Do latents matched across equal-N shapes fire at the bound's rate? Yes when every pair of
    shapes says so, no when every pair falls short of it (the same rate, short, or opposite)."""
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
