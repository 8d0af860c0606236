"""n* from a dictionary-size sweep: exact on a planted power law, bounds outside the sweep, the first
crossing of a curve that is not monotone, the seed band, chapter 9's rules on planted sweeps, the
sweep metrics against a hand computation, and bad input named."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from helpers.sae.counting import AT_SMALLEST, BEYOND, INTERPOLATED, compare_ranges, error_law, latents_needed, needed_range


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


def test_the_seed_band_moves_n_star_by_the_power_laws_factor():
    """error = n^−0.5: moving the curve by e^(±b) moves n* by e^(±2b) exactly; two seeds widen the range
    to both seeds' extremes."""
    sizes = np.array([100.0, 400.0, 1600.0])
    found = needed_range(sizes, [sizes**-0.5], 0.05, 0.1)  # n* = 400
    assert found.central.value == pytest.approx(400.0, rel=1e-12)
    assert (found.low, found.high) == (pytest.approx(400 * np.exp(-0.2), rel=1e-12), pytest.approx(400 * np.exp(0.2), rel=1e-12))
    two = needed_range(sizes, [sizes**-0.5, 1.2 * sizes**-0.5], 0.05, 0.0)
    assert (two.low, two.high) == (pytest.approx(400.0, rel=1e-12), pytest.approx(400 * 1.2**2, rel=1e-12))
    unbounded = needed_range(sizes, [sizes**-0.5], 0.026, 0.1)  # 1600^−0.5 = 0.025: the upper curve misses it
    assert unbounded.high == np.inf and unbounded.central.status == INTERPOLATED
    met = needed_range(sizes, [sizes**-0.5], 0.12, 0.1)  # 100^−0.5·e^0.1 = 0.11: met at the smallest size by every curve
    assert (met.low, met.high) == (0.0, 100.0)
    beyond = needed_range(sizes, [sizes**-0.5], 0.01, 0.1)  # no curve reaches it: bounded below by the largest size
    assert (beyond.low, beyond.high) == (1600.0, np.inf)
    with pytest.raises(ValueError, match="parameter 'band'"):
        needed_range(sizes, [sizes**-0.5], 0.05, -1.0)


def test_ranges_compare_only_when_they_do_not_overlap():
    assert compare_ranges((100, 200), (250, np.inf)) == "rises"
    assert compare_ranges((100, 200), (0.0, 90)) == "falls"
    assert compare_ranges((100, 200), (150, 300)) == "inconclusive"
    assert compare_ranges((2048, np.inf), (2048, np.inf)) == "inconclusive"  # both beyond the sweep


def test_error_law_recovers_a_planted_exponent_with_a_perfect_fit():
    sizes = np.array([256, 512, 1024, 2048, 2048])
    law = error_law(sizes, 3 * sizes**-0.16)
    assert law.exponent == pytest.approx(0.16, rel=1e-12) and law.r_squared == pytest.approx(1.0)
    assert law.low == pytest.approx(0.16) and law.high == pytest.approx(0.16) and law.points == 5
    noisy = error_law(sizes, 3 * sizes**-0.16 * np.array([1.05, 0.95, 1.05, 0.95, 1.0]))
    assert noisy.low < 0.16 < noisy.high and noisy.r_squared < 1
    with pytest.raises(ValueError, match="two or more different sizes"):
        error_law([512, 512], [0.1, 0.2])


def planted_sweep(scale: dict[int, float], clean: dict[int, float], seeds: int = 2, jitter: float = 0.02) -> pd.DataFrame:
    """A sweep whose normalised MSE is scale[w]·(n/256)^−0.3 (n* at target 0.1: 256·(10·scale)^(1/0.3)),
    spliced rise 0.2·(n/256)^−0.3·scale[w], over ``seeds`` language-model seeds and two SAE seeds at
    the largest size, each seed's errors moved by ±``jitter`` in log."""
    rows = []
    for width, c in scale.items():
        for lm_seed in range(seeds):
            for n, replicate in [(256, 0), (512, 0), (1024, 0), (1024, 1)]:
                shift = np.exp(jitter * (1 if (lm_seed + replicate) % 2 else -1))
                error = c * (n / 256) ** -0.3 * shift
                rows.append(
                    {
                        "model": f"w{width}-s{lm_seed}",
                        "d_model": width,
                        "lm_seed": lm_seed,
                        "k": 16,
                        "d_sae": n,
                        "replicate": replicate,
                        "normalised_mse": error,
                        "delta_ce": 2 * error,
                        "ce_clean": clean[width],
                        "ce_spliced": clean[width] + 2 * error,
                        "kl": error,
                        "dead_share": 0.0,
                    }
                )
    return pd.DataFrame(rows)


@pytest.fixture
def counting_cfg():
    from helpers.chapters.configs import config_for

    return config_for("smoke", "09_counting", k=16, dictionary_sizes=[256, 512, 1024], nmse_target=0.1, delta_ce_target=0.2)


def untrained_sweep(scale: dict[int, float]) -> pd.DataFrame:
    """The untrained control: one SAE of the largest size per width, normalised MSE scale[w]."""
    rows = [{"model": f"u{w}", "d_model": w, "lm_seed": 0, "k": 16, "d_sae": 1024, "replicate": 0, "normalised_mse": c} for w, c in scale.items()]
    return pd.DataFrame(rows)


def judge(cfg, sweep, untrained=None):
    from helpers.chapters import counting

    needed = counting.needed_table(cfg, sweep)
    stores = counting.stores_more(cfg, needed, sweep)
    gets = counting.gets_more(cfg, counting.at_equal_n(sweep), sweep)
    control = untrained if untrained is not None else untrained_sweep(dict.fromkeys(sweep.d_model.unique(), 0.5))
    penalty = counting.width_penalty(cfg, sweep, control)
    return needed, counting.summary(cfg, sweep, needed, stores, gets, penalty)


def test_rules_on_planted_sweeps(counting_cfg):
    """Wider widths planted with larger errors need more latents (n* = 256·(10c)^(1/0.3) at c = 0.12)
    and, with lower clean losses, keep lower spliced losses; reversing the scales reverses the first
    claim; seeds far apart make it inconclusive."""
    rising = planted_sweep({16: 0.12, 32: 0.15, 64: 0.19}, {16: 5.0, 32: 4.5, 64: 4.0})
    needed, summary = judge(counting_cfg, rising)
    nmse = needed[needed.error == "normalised_mse"].set_index("d_model")
    assert nmse.loc[16, "n_star"] == pytest.approx(256 * (1.2 * np.cosh(0.02)) ** (1 / 0.3), rel=1e-9)  # seeds at e^(±0.02) average to cosh
    assert summary["stores_more"] == {"normalised_mse": "holds", "delta_ce": "holds"}
    assert summary["gets_more"] == "holds"
    split = summary["split"]
    assert (split["narrow"], split["wide"]) == (16, 64) and split["clean_gap"] == pytest.approx(1.0)
    expected_gap = 1.0 - 2 * (0.19 - 0.12) * 4**-0.3  # the wider model's larger rise eats into the clean gap
    assert split["gap_at_equal_n"] == pytest.approx(expected_gap, rel=1e-3)
    falling = planted_sweep({16: 0.19, 32: 0.15, 64: 0.12}, {16: 5.0, 32: 4.5, 64: 4.0})
    assert judge(counting_cfg, falling)[1]["stores_more"]["normalised_mse"] == "reversed"
    noisy = planted_sweep({16: 0.14, 32: 0.15, 64: 0.16}, {16: 5.0, 32: 4.5, 64: 4.0}, jitter=0.3)
    assert judge(counting_cfg, noisy)[1]["stores_more"]["normalised_mse"] == "inconclusive"


def test_one_seed_of_everything_gives_no_verdict(counting_cfg):
    one = planted_sweep({16: 0.12, 64: 0.19}, {16: 5.0, 64: 4.0}, seeds=1)
    one = one[one.replicate == 0]
    _, summary = judge(counting_cfg, one)
    assert summary["stores_more"]["normalised_mse"] == "inconclusive" and summary["gets_more"] == "inconclusive"


@pytest.mark.parametrize(
    ("changes", "name"),
    [
        ({"dictionary_sizes": []}, "dictionary_sizes"),
        ({"dictionary_sizes": [16, 32]}, "dictionary_sizes"),
        ({"k": 16}, "k"),
        ({"second_k": 4}, "second_k"),
        ({"architecture": "gated"}, "architecture"),
        ({"nmse_target": 1.5}, "nmse_target"),
    ],
)
def test_bad_sweep_parameters_name_the_parameter(changes, name):
    from helpers.chapters.configs import config_for
    from helpers.core.parameters import ParameterError

    with pytest.raises(ParameterError, match=name):
        config_for("smoke", "09_counting", **changes)


def test_sweep_metrics_by_hand():
    """An identity SAE splices in the activations themselves: normalised MSE 0, KL 0, the spliced loss
    the clean one, which is the model's own loss; an SAE that outputs the mean has normalised MSE 1."""
    import torch
    from transformer_lens import HookedTransformer, HookedTransformerConfig

    from helpers.sae.evaluation import sweep_metrics

    torch.manual_seed(0)
    model = HookedTransformer(HookedTransformerConfig(n_layers=1, d_model=8, n_ctx=6, d_head=4, d_vocab=11, act_fn="relu"))
    tokens = torch.randint(0, 11, (5, 6))
    hook = "blocks.0.hook_resid_pre"

    class Identity:
        def encode(self, x):
            return x

        def decode(self, f):
            return f

    metrics = sweep_metrics(model, hook, Identity(), tokens, batch_size=2)
    assert metrics["normalised_mse"] == pytest.approx(0.0, abs=1e-12) and metrics["kl"] == pytest.approx(0.0, abs=1e-6)
    assert metrics["ce_spliced"] == pytest.approx(metrics["ce_clean"], abs=1e-6)
    assert metrics["ce_clean"] == pytest.approx(model(tokens, return_type="loss").item(), rel=1e-5)
    _, cache = model.run_with_cache(tokens, names_filter=hook)
    mean = cache[hook].flatten(0, 1).mean(0)

    class Mean(Identity):
        def decode(self, f):
            return mean.expand_as(f)

    assert sweep_metrics(model, hook, Mean(), tokens)["normalised_mse"] == pytest.approx(1.0, rel=1e-6)


def test_the_untrained_control_compares_width_penalties(counting_cfg):
    """Trained errors at n = 1,024 grow from width 16 to 64 by 0.19/0.12 (±e^0.02 per seed, so the
    range is (0.19/0.12)·e^(±0.04)); an untrained pair growing by 1.2 (band 0.02: ×e^(±0.04)) lies below
    it: holds; one growing by 2.0 lies above: reversed; one growing by the same 1.58: inconclusive."""
    from helpers.chapters import counting

    sweep = planted_sweep({16: 0.12, 32: 0.15, 64: 0.19}, {16: 5.0, 32: 4.5, 64: 4.0})
    penalty = counting.width_penalty(counting_cfg, sweep, untrained_sweep({16: 0.5, 32: 0.55, 64: 0.6}))
    extreme = penalty.iloc[-1]
    assert (extreme.narrow, extreme.wide) == (16, 64)
    assert extreme.trained_low == pytest.approx(np.log(0.19 / 0.12) - 0.04) and extreme.trained_high == pytest.approx(np.log(0.19 / 0.12) + 0.04)
    assert extreme.untrained == pytest.approx(np.log(1.2)) and extreme.untrained_high == pytest.approx(np.log(1.2) + 0.04)
    assert counting.overall(penalty) == "holds"
    steeper = counting.width_penalty(counting_cfg, sweep, untrained_sweep({16: 0.3, 32: 0.45, 64: 0.6}))
    assert counting.overall(steeper) == "reversed"
    same = counting.width_penalty(counting_cfg, sweep, untrained_sweep({16: 0.12, 32: 0.15, 64: 0.19}))
    assert counting.overall(same) == "inconclusive"
