"""Chapter 7's check of the theory note: sites, parameters, the bound's prediction and the rule,
checked by hand and against brute force."""

import math
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch
from scipy.optimize import brentq

from helpers.chapters import equal_n
from helpers.chapters.configs import EqualNConfig
from helpers.core.parameters import ParameterError
from helpers.lm.family import half_block_site
from helpers.lm.training import snapshot_path
from helpers.universality.activations import write_sparse


@pytest.mark.parametrize(
    "layers, depth, hook",
    [
        (8, 0.75, "blocks.6.hook_resid_pre"),
        (2, 0.75, "blocks.1.hook_resid_mid"),
        (32, 0.75, "blocks.24.hook_resid_pre"),
        (6, 0.75, "blocks.4.hook_resid_mid"),
        (4, 0.5, "blocks.2.hook_resid_pre"),
        (1, 0.5, "blocks.0.hook_resid_mid"),
    ],
)
def test_site_at_the_same_relative_depth_in_half_blocks(layers, depth, hook):
    assert half_block_site(layers, depth) == hook


@pytest.mark.parametrize("layers, depth", [(3, 0.75), (2, 1.0), (8, 0.3)])
def test_a_depth_between_half_blocks_has_no_site(layers, depth):
    assert half_block_site(layers, depth) is None


@pytest.mark.parametrize(
    "params, name",
    [
        ({"shapes": [[8, 16], [2, 40]]}, "shapes"),  # 12·L·d² 24,576 against 38,400
        ({"shapes": [[2, 32]]}, "shapes"),
        ({"shapes": [[2, 32], [8, 17]]}, "shapes"),  # 17 is not divisible by its 2 heads
        ({"shapes": [[2, 32], [3, 26]], "relative_depth": 0.75}, "relative_depth"),  # 3 blocks have no site at 0.75
        ({"lm_seeds": [0]}, "lm_seeds"),
        ({"lm_seeds": [0, 0]}, "lm_seeds"),
        ({"dictionary_sizes": [64, 64]}, "dictionary_sizes"),
        ({"loss_tolerance": 0.0}, "loss_tolerance"),
    ],
)
def test_bad_parameters_name_the_parameter(params, name):
    with pytest.raises(ParameterError, match=f"^parameter {name!r}"):
        EqualNConfig.from_params(preset="smoke", **params)


def test_shapes_within_two_percent_are_accepted():
    cfg = EqualNConfig.from_params(preset="smoke", shapes=[[8, 64], [2, 128], [12, 52]], dictionary_sizes=[32, 64])
    assert cfg.largest_dictionary == 64


def test_capacity_load_by_hand():
    assert equal_n.capacity_load(10.0, 100, 20) == pytest.approx(10 * math.log(10) / 20)
    assert math.isnan(equal_n.capacity_load(0.0, 100, 20)) and math.isnan(equal_n.capacity_load(100.0, 100, 20))


@pytest.mark.parametrize("density, ratio", [(0.01, 2.0), (0.05, 4.0), (0.2, 1.5), (0.001, 16.0)])
def test_predicted_shift_solves_the_bound_by_brute_force(density, ratio):
    """A site `ratio` times narrower holds the same features at capacity when q·ln(1/q) = p·ln(1/p) / ratio
    (m ∝ n·p·ln(1/p)); q is found here by bisection on the sparse branch q < 1/e."""
    target = density * math.log(1 / density) / ratio
    q = brentq(lambda x: x * math.log(1 / x) - target, 1e-300, density)
    assert equal_n.predicted_log_ratio(density, ratio) == pytest.approx(math.log(q / density), rel=1e-6)
    assert equal_n.predicted_log_ratio(density, ratio) < 0


def test_no_prediction_off_the_sparse_branch():
    assert math.isnan(equal_n.predicted_log_ratio(0.5, 2.0)) and math.isnan(equal_n.predicted_log_ratio(0.0, 2.0))


@pytest.mark.parametrize(
    "shift, predicted, noise, verdict",
    [
        (0.01, -0.5, 0.05, "the same rate"),
        (-0.4, -0.5, 0.05, "the bound's rate"),
        (-0.1, -0.5, 0.05, "short of the bound"),  # beyond the noise, but not half way to the prediction
        (0.4, -0.5, 0.05, "opposite to the bound"),  # the other side
        (float("nan"), -0.5, 0.05, "undecided"),
    ],
)
def test_shift_rule_by_hand(shift, predicted, noise, verdict):
    assert equal_n.shift_verdict(shift, predicted, noise) == verdict


def test_loss_premise_by_hand():
    models = pd.DataFrame({"shape": ["A", "A", "B", "B"], "val_loss": [5.0, 5.1, 5.3, 5.2]})
    premise = equal_n.loss_premise(models, 0.03)
    assert premise["gap_nats"] == pytest.approx(0.2) and premise["relative_gap"] == pytest.approx(0.2 / 5.05)
    assert premise["seed_spread_nats"] == pytest.approx(0.1) and premise["best"] == "A" and not premise["comparable"]
    assert equal_n.loss_premise(models, 0.05)["comparable"]


def test_matching_recovers_a_planted_permutation_and_its_frequency_shift(tmp_path):
    """Model W (wider site) fires each latent on 200 of 4,000 tokens; model N (narrower) holds the same
    latents, permuted, firing on every other one of those tokens: one-to-one matching finds the
    permutation and the median log frequency ratio is ln(1/2)."""
    rng = np.random.default_rng(0)
    tokens, latents = 4000, 6
    wide = np.zeros((tokens, latents), dtype=np.float32)
    for j in range(latents):
        wide[rng.choice(tokens, 200, replace=False), j] = rng.uniform(0.5, 2.0, 200)
    permutation = rng.permutation(latents)
    narrow = wide[:, permutation].copy()
    for j in range(latents):
        active = np.flatnonzero(narrow[:, j])
        narrow[active[::2], j] = 0
    acts = {
        "W": write_sparse([torch.from_numpy(wide)], tmp_path / "W", latents),
        "N": write_sparse([torch.from_numpy(narrow)], tmp_path / "N", latents),
    }
    models = pd.DataFrame({"model": ["W", "N"], "shape": ["L2-d32", "L8-d16"], "d_model": [32, 16], "n_layers": [2, 8]})
    cfg = EqualNConfig.from_params(preset="smoke", device="cpu")
    pairs = equal_n.match_pairs(cfg, models, acts, threshold=0.5)
    row = pairs.iloc[0]
    assert (row["first"], row["second"], row.kind) == ("N", "W", equal_n.ACROSS_SHAPES)
    assert row.matched == latents and row.share_matched == 1.0 and row.width_ratio == 2.0
    assert row.median_log_ratio == pytest.approx(math.log(0.5))
    assert row.predicted_log_ratio == pytest.approx(equal_n.predicted_log_ratio(200 / tokens, 2.0))
    # per layer the narrow, deep model spreads its features over 4x the layers: (8·16)/(2·32) = 2x less load per neuron
    assert row.layer_load_ratio == pytest.approx(2.0)
    assert row.predicted_per_layer == pytest.approx(-equal_n.predicted_log_ratio(200 / tokens, 2.0))
    assert row.predicted_log_ratio < 0 < row.predicted_per_layer  # the two accountings disagree in sign


def _trained(folder, losses: dict[int, float], kept: list[int], steps: int):
    """A trained model as matched_steps reads it: its settings, its validation history and the kept snapshots on disk."""
    folder.mkdir()
    for step in kept:
        path = snapshot_path(folder, step)
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(b"")
    history = pd.DataFrame({"step": list(losses), "tokens": [100 * s for s in losses], "val_loss": list(losses.values())})
    return SimpleNamespace(folder=folder, history=history, summary={"settings": {"steps": steps}})


def test_matched_loss_reads_each_model_at_the_kept_snapshot_nearest_the_worst_shapes_loss(tmp_path):
    """Shape A (two seeds) ends at 4.9 and 5.0, shape B at 5.3 and 5.5: the target is B's mean, 5.4.
    B's models are read at their last step; A's at the kept step nearest 5.4 (step 8 at 5.45 and
    step 4 at 5.6 for the first seed; for the second, step 6 is nearer but not kept, so step 8)."""
    trained = {
        "a0": _trained(tmp_path / "a0", {0: 7.0, 4: 5.6, 6: 5.41, 8: 5.45, 12: 4.9}, kept=[4, 8], steps=12),
        "a1": _trained(tmp_path / "a1", {0: 7.0, 4: 5.9, 6: 5.40, 8: 5.3, 12: 5.0}, kept=[4, 8], steps=12),
        "b0": _trained(tmp_path / "b0", {0: 7.0, 4: 6.0, 8: 5.6, 12: 5.3}, kept=[4, 8], steps=12),
        "b1": _trained(tmp_path / "b1", {0: 7.0, 4: 6.1, 8: 5.7, 12: 5.5}, kept=[4, 8], steps=12),
    }
    models = pd.DataFrame(
        {
            "model": ["a0", "a1", "b0", "b1"],
            "shape": ["A", "A", "B", "B"],
            "lm_seed": [0, 1, 0, 1],
            "n_layers": [2, 2, 8, 8],
            "d_model": [32, 32, 16, 16],
            "site": ["s", "s", "t", "t"],
            "val_loss": [4.9, 5.0, 5.3, 5.5],
        }
    )
    matched = equal_n.matched_steps(models, trained).set_index("model")
    assert matched.target_loss.unique().tolist() == [pytest.approx(5.4)]
    assert matched.step.to_dict() == {"a0": 8, "a1": 8, "b0": 12, "b1": 12}
    assert matched.val_loss.to_dict() == {"a0": 5.45, "a1": 5.3, "b0": 5.3, "b1": 5.5}
    assert matched.tokens["a0"] == 800 and (matched.of_steps == 12).all()
    premise = equal_n.matched_premise(matched.reset_index(), 0.03)
    assert premise["gap_nats"] == pytest.approx(0.025) and premise["comparable"]
    assert premise["largest_model_gap"] == pytest.approx(0.1 / 5.4) and premise["farthest_model"] in ("a1", "b0", "b1")


def test_matched_premise_fails_when_seeds_straddle_the_common_loss():
    """Shape A's seeds sit 0.3 nats either side of the target 5.4: their mean matches B's exactly, but
    each is 5.6% from the common loss, beyond a 3% tolerance."""
    matched = pd.DataFrame(
        {"model": ["a0", "a1", "b0", "b1"], "shape": ["A", "A", "B", "B"], "val_loss": [5.1, 5.7, 5.4, 5.4], "target_loss": [5.4] * 4}
    )
    assert equal_n.loss_premise(matched, 0.03)["comparable"]
    premise = equal_n.matched_premise(matched, 0.03)
    assert not premise["comparable"] and premise["largest_model_gap"] == pytest.approx(0.3 / 5.4)
    assert premise["farthest_model"] == "a0" and premise["gap_nats"] == pytest.approx(0.0)


def test_load_at_one_explained_variance_interpolates_log_l0_by_hand():
    """Two shapes, three coefficients each. The target is the median explained variance at multiplier 1
    (0.80 and 0.70: 0.75). Shape W (d = 32) brackets it between 0.70 (L0 40, 90 live) and 0.80 (L0 10,
    100 live): L0 = exp(mean of the logs) = 20, live 95. Shape N (d = 16) brackets it between 0.70
    (L0 30) and 0.76 (L0 60), five sixths of the way: L0 = 30 · 2^(5/6)."""
    rows = [
        ("W", 32, 0.5, 0.90, 80.0, 100),
        ("W", 32, 1.0, 0.80, 10.0, 100),
        ("W", 32, 2.0, 0.70, 40.0, 90),
        ("N", 16, 0.5, 0.76, 60.0, 100),
        ("N", 16, 1.0, 0.70, 30.0, 100),
        ("N", 16, 2.0, 0.60, 15.0, 100),
    ]
    sparsity = pd.DataFrame(rows, columns=["shape", "d_model", "multiplier", "explained_variance", "l0", "live"])
    target, at = equal_n.at_explained_variance(sparsity)
    at = at.set_index("shape")
    assert target == pytest.approx(0.75)
    assert at.l0["W"] == pytest.approx(20.0) and at.live["W"] == pytest.approx(95.0)
    assert at.load["W"] == pytest.approx(20 * math.log(95 / 20) / 32)
    assert at.l0["N"] == pytest.approx(30 * 2 ** (5 / 6)) and at.live["N"] == pytest.approx(100.0)
    assert at.reached.all()


def test_load_at_one_explained_variance_is_nan_where_a_sweep_falls_short():
    """Shape N's SAEs all explain 0.90 or more; the target is the median at multiplier 1, (0.80 + 0.92) / 2
    = 0.86, inside W's sweep and outside N's."""
    rows = [
        ("W", 32, 0.5, 0.90, 80.0, 100),
        ("W", 32, 1.0, 0.80, 10.0, 100),
        ("N", 16, 0.5, 0.95, 60.0, 100),
        ("N", 16, 1.0, 0.92, 30.0, 100),
    ]
    target, at = equal_n.at_explained_variance(pd.DataFrame(rows, columns=["shape", "d_model", "multiplier", "explained_variance", "l0", "live"]))
    at = at.set_index("shape")
    assert target == pytest.approx(0.86)
    assert at.reached["W"] and not at.reached["N"]
    assert math.isnan(at.load["N"]) and math.isnan(at.l0["N"]) and np.isfinite(at.load["W"])


def test_sparsity_multipliers_must_include_chapter_4s_coefficient():
    with pytest.raises(ParameterError, match="l1_multipliers"):
        EqualNConfig.from_params(preset="smoke", l1_multipliers=[0.5, 2.0])
    with pytest.raises(ParameterError, match="l1_multipliers"):
        EqualNConfig.from_params(preset="smoke", l1_multipliers=[1.0])
