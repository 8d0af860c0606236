"""n* from a dictionary-size sweep: exact on a planted power law, bounds outside the sweep, the first
crossing of a curve that is not monotone, and bad input named."""

from __future__ import annotations

import numpy as np
import pytest

from helpers.sae.counting import AT_SMALLEST, BEYOND, INTERPOLATED, latents_needed


def test_a_planted_power_law_gives_back_its_size_exactly():
    """error = 2·n^−0.3: the target 2·700^−0.3 is met at n = 700, between the sweep's 512 and 1024."""
    sizes = np.array([256, 512, 1024, 2048])
    found = latents_needed(sizes, 2 * sizes**-0.3, 2 * 700.0**-0.3)
    assert found.status == INTERPOLATED and found.value == pytest.approx(700.0, rel=1e-12) and found.label == "700"


def test_targets_outside_the_sweep_are_bounds_not_extrapolations():
    sizes, errors = [512, 1024, 2048], [0.30, 0.20, 0.15]
    beyond = latents_needed(sizes, errors, 0.10)
    assert (beyond.status, beyond.value, beyond.label) == (BEYOND, 2048.0, "> 2,048 (beyond the sweep)")
    met = latents_needed(sizes, errors, 0.35)
    assert (met.status, met.value, met.label) == (AT_SMALLEST, 512.0, "≤ 512")


def test_the_first_crossing_counts_and_sizes_may_come_in_any_order():
    """By hand: the error falls to 0.2 between 512 (0.25) and 1024 (0.16), rises again at 2048."""
    found = latents_needed([2048, 512, 1024, 256], [0.22, 0.25, 0.16, 0.40], 0.20)
    share = np.log(0.25 / 0.20) / np.log(0.25 / 0.16)
    assert found.status == INTERPOLATED and found.value == pytest.approx(512 * 2**share, rel=1e-12)


@pytest.mark.parametrize(
    ("sizes", "errors", "target", "message"),
    [
        ([512], [0.2], 0.1, "two or more sizes"),
        ([512, 512], [0.2, 0.1], 0.1, "distinct dictionary sizes"),
        ([512, -1024], [0.2, 0.1], 0.1, "distinct dictionary sizes > 0"),
        ([512, 1024], [0.2, 0.0], 0.1, "parameter 'errors'"),
        ([512, 1024], [0.2, 0.1], 0.0, "parameter 'target'"),
    ],
)
def test_bad_sweeps_name_the_parameter(sizes, errors, target, message):
    with pytest.raises(ValueError, match=message):
        latents_needed(sizes, errors, target)
