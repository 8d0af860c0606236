"""Chapter 6's diagnostic: its parameters, and the rule that reads the two axes, on hand-made tables."""

import numpy as np
import pandas as pd
import pytest

from helpers.chapters import dynamics, verdicts
from helpers.chapters.configs import DynamicsConfig
from helpers.chapters.dynamics import LM_AXIS, SAE_AXIS
from helpers.core.parameters import ParameterError


def test_parameters_are_checked_against_chapters_3_to_5():
    cfg = DynamicsConfig.from_params(preset="smoke")
    assert cfg.widths == [16, 32] and cfg.steps_read == [0, 16, 32]  # smoke: 32 steps, a snapshot every 16
    assert DynamicsConfig.from_params(preset="smoke", lm_steps=[]).steps_read == [0, 16, 32]
    assert DynamicsConfig.from_params(preset="smoke", lm_steps=[16]).steps_read == [16, 32]
    assert DynamicsConfig.from_params(preset="quick", pair_widths=[]).widths == [64, 96]  # by default the two widest
    for params, name, allowed in (
        ({"lm_steps": [8]}, "lm_steps", r"kept snapshots \[16\]"),
        ({"lm_steps": [32]}, "lm_steps", r"kept snapshots \[16\]"),
        ({"pair_widths": [16, 64]}, "pair_widths", r"\[16, 32\]"),
        ({"pair_widths": [16, 16]}, "pair_widths", "two different widths"),
        ({"sae_checkpoints": 32}, "sae_checkpoints", "fewer than the SAEs' 32 training steps"),
        ({"sae_checkpoints": 0}, "sae_checkpoints", "greater than zero"),
    ):
        with pytest.raises(ParameterError, match=allowed) as info:
            DynamicsConfig.from_params(preset="smoke", **params)
        assert info.value.name == name


def r_rows(axis: str, position: str, values: dict[int, tuple[tuple[float, float, float], tuple[float, float, float]]]):
    """Rows of an r table: at each position, (r, low, high) for model a scored against b, then b against a."""
    rows = []
    for at, directions in values.items():
        for (scored, against), (r, low, high) in zip((("a", "b"), ("b", "a")), directions):
            rows.append(
                {
                    "axis": axis,
                    position: at,
                    "lm_fraction" if position == "lm_step" else "sae_fraction": at / 4,
                    "scored": scored,
                    "against": against,
                    "r": r,
                    "r_low": low,
                    "r_high": high,
                }
            )
    return rows


def table(lm: dict, sae: dict) -> pd.DataFrame:
    return pd.DataFrame(r_rows(LM_AXIS, "lm_step", lm) + r_rows(SAE_AXIS, "sae_tokens", sae))


RISING = {0: ((0.0, -0.1, 0.1), (0.1, 0.0, 0.2)), 2: ((0.2, 0.1, 0.3), (0.2, 0.1, 0.3)), 4: ((0.5, 0.4, 0.6), (0.4, 0.3, 0.5))}
OVERLAPPING = {1: ((0.3, 0.1, 0.5), (0.3, 0.2, 0.4)), 4: ((0.5, 0.4, 0.6), (0.4, 0.3, 0.5))}


def test_rise_reads_the_slope_over_every_trained_point():
    r = table(RISING, OVERLAPPING)
    lm = dynamics.rise(r, LM_AXIS)
    assert (lm["r_first"], lm["r_last"], lm["direction"], lm["first_fraction"]) == pytest.approx((0.05, 0.45, "rises", 0.0))
    assert lm["change"] == pytest.approx(0.40)
    assert lm["slope"] == pytest.approx((0.45 - 0.2) / np.log(2))  # the untrained point enters no slope (log 0)
    assert lm["slope_low"] > 0 and lm["hump_at"] is None
    sae = dynamics.rise(r, SAE_AXIS)
    assert sae["direction"] == "flat" and sae["verdict"] == verdicts.INCONCLUSIVE and sae["first_fraction"] == 0.25
    tight = lambda v: ((v, v - 0.01, v + 0.01), (v, v - 0.01, v + 0.01))  # noqa: E731
    falling = table({0: tight(0.5), 2: tight(0.4), 4: tight(0.3)}, OVERLAPPING)
    assert dynamics.rise(falling, LM_AXIS)["direction"] == "falls"
    hump = dynamics.rise(table({0: tight(0.29), 1: tight(0.42), 2: tight(0.35), 4: tight(0.29)}, OVERLAPPING), LM_AXIS)
    assert hump["hump_at"] == 0.25 and hump["direction"] == "falls"  # r falls after a quarter of training


def test_explanation_names_the_axis_that_moves_r():
    assert dynamics.explanation("rises", "flat").startswith("the language models' training")
    assert dynamics.explanation("flat", "rises").startswith("the SAEs' training")
    assert dynamics.explanation("rises", "rises").startswith("both")
    assert dynamics.explanation("falls", "flat").startswith("neither")
    assert dynamics.explanation("flat", "flat").startswith("undecided")
    outcome = dynamics.summary(table(RISING, OVERLAPPING), ["a", "b"], 0.1)
    assert outcome["explanation"].startswith("the language models' training") and outcome["rule"] == dynamics.RULE


def test_seed_spread_is_the_widest_range_over_sae_seed_pairs_of_the_pair():
    summary = pd.DataFrame(
        {
            "kind": ["cross-width"] * 6 + ["SAE seed"],
            "site": ["s"] * 7,
            "scored": ["a", "a", "b", "b", "a", "c", "a"],
            "against": ["b", "b", "a", "a", "c", "a", "a"],
            "r": [0.10, 0.30, 0.20, 0.25, 0.9, -0.9, 5.0],
        }
    )
    assert dynamics.seed_spread(summary, "s", ["a", "b"]) == pytest.approx(0.20)
