"""The talk's measurement where the features are known: chapter 5's importance and universality on
SAEs trained on the hidden vectors h = xW of chapter 8's toy models, beside the truth.

Every width of one frequency family and seed, in the strong and in the weak regime, reads the same
sparse features x (the same samples for every width, as every language model reads the same tokens).
An SAE per (regime, width) is trained with SAELens on fresh hidden vectors; its latents over a fixed
evaluation set are stored as chapter 5 stores them, and the same engine gives each latent's
importance (its max activation over the SAE's largest) and universality (its max Pearson correlation
with any latent of the next width's SAE). The true features x are one more sparse store, so the same
engine gives each latent's best true feature and how well it tracks it.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from helpers.chapters.configs import GeometryConfig
from helpers.chapters.geometry import regime
from helpers.core import paths
from helpers.sae.training import SAESettings, load_sae, train_sae_on_vectors
from helpers.theory import scaling_toy as st
from helpers.universality.activations import SparseActivations, write_sparse
from helpers.universality.correlation import MaxCorrelation, max_correlations
from helpers.universality.fits import pearson_with_ci

#: A latent tracks a true feature when their correlation exceeds this.
TRACKS = 0.5
#: Evaluation samples per block written to a store.
BLOCK = 4096
#: Offsets of the evaluation and the training sample streams from the chapter's seed.
EVALUATION_STREAM, TRAINING_STREAM = 1, 2


def family_of(cfg: GeometryConfig) -> st.FrequencyFamily:
    kind, value = cfg.families[cfg.toy_families.index(cfg.planted_family)]
    return st.FrequencyFamily(kind, value)


def regimes(cfg: GeometryConfig) -> dict[str, float]:
    """The grid's strongest and weakest decay, by regime name (only the regimes the grid has)."""
    ends = {regime(min(cfg.toy_decays)): min(cfg.toy_decays), regime(max(cfg.toy_decays)): max(cfg.toy_decays)}
    return {name: decay for name, decay in ends.items() if name in ("strong", "weak")}


def feature_batches(frequencies: np.ndarray, batch: int, seed: int) -> Iterator[torch.Tensor]:
    """Fresh dense feature batches x (batch, n), forever, from one sampler."""
    sampler = st.SparseSampler(frequencies, batch, torch.Generator().manual_seed(seed))
    while True:
        yield sampler.dense()


def hidden_batches(frequencies: np.ndarray, weights: torch.Tensor, batch: int, seed: int) -> Iterator[torch.Tensor]:
    """The toy model's hidden vectors h = xW (batch, m) of fresh samples, forever."""
    for x in feature_batches(frequencies, batch, seed):
        yield x @ weights


def toy_key(weights: np.ndarray, family: st.FrequencyFamily) -> str:
    """What identifies a toy model's hidden vectors: its weights' digest and its family."""
    return f"{family.kind}:{family.value!r}-" + hashlib.sha256(np.ascontiguousarray(weights, dtype=np.float64).tobytes()).hexdigest()[:16]


def evaluation_features(cfg: GeometryConfig, frequencies: np.ndarray) -> list[torch.Tensor]:
    """The fixed evaluation set every width reads: (samples, n) in blocks."""
    stream = feature_batches(frequencies, BLOCK, cfg.seed + EVALUATION_STREAM)
    return [next(stream) for _ in range(-(-cfg.planted_eval_samples // BLOCK))]


def sae_settings(cfg: GeometryConfig) -> SAESettings:
    return SAESettings(
        architecture="topk",
        d_sae=cfg.planted_d_sae or cfg.toy_features,
        k=cfg.planted_k,
        lr=cfg.planted_lr,
        training_tokens=cfg.planted_samples,
        batch_tokens=cfg.planted_batch,
        seed=cfg.seed,
    )


@dataclasses.dataclass(frozen=True)
class Width:
    """One (regime, width): its SAE's latents over the evaluation set, each latent's best true feature
    (the engine's maximum correlations against the true features' store), and how many features the
    toy model represents (rows of norm above ½)."""

    regime: str
    width: int
    latents: SparseActivations
    truth: MaxCorrelation
    represented: int


def read_width(
    cfg: GeometryConfig, run: st.ToyRun, regime_name: str, features: list[torch.Tensor], truth: SparseActivations, family: st.FrequencyFamily
) -> Width:
    """Train (or find) the SAE of one toy model, store its latents over the evaluation set and match
    them to the true features once."""
    weights = torch.tensor(run.weights, dtype=torch.float32)
    key = toy_key(run.weights, family)
    frequencies = family.frequencies(cfg.toy_features)
    saes_dir = paths.run_dir(cfg.preset, cfg.runs_dir or None) / "saes" / "toy"
    batches = hidden_batches(frequencies, weights, cfg.planted_batch, cfg.seed + TRAINING_STREAM)
    folder = train_sae_on_vectors(f"{regime_name}-m{run.width}", batches, run.width, key, sae_settings(cfg), saes_dir)
    sae = load_sae(folder)
    store = paths.run_dir(cfg.preset, cfg.runs_dir or None) / "activations" / "toy" / f"{Path(folder).name}-e{cfg.planted_eval_samples}"
    with torch.no_grad():
        latents = write_sparse((sae.encode(x @ weights) for x in features), store, sae.cfg.d_sae)
    return Width(regime_name, run.width, latents, max_correlations(latents, truth), int((st.row_norms(run.weights) > st.REPRESENTED_NORM).sum()))


def pair_rows(a: Width, b: Width, samples: int) -> tuple[dict, pd.DataFrame]:
    """Chapter 5's measurement on the pair (a, b), from a's side, and the truth beside it: one summary
    row and one row per live latent of a."""
    across = max_correlations(a.latents, b.latents)
    truth_a, truth_b = a.truth, b.truth
    importance, universality = across.stats_a.importance, across.a_to_b
    live = ~across.stats_a.dead & np.isfinite(universality)
    partner = across.a_to_b_index[live]
    tracked_a = truth_a.a_to_b[live] > TRACKS
    tracked_b = truth_b.a_to_b[partner] > TRACKS
    same = tracked_a & tracked_b & (truth_a.a_to_b_index[live] == truth_b.a_to_b_index[partner])
    latents = pd.DataFrame(
        {
            "regime": a.regime,
            "width": a.width,
            "other": b.width,
            "latent": np.flatnonzero(live),
            "importance": importance[live],
            "universality": universality[live],
            "truth_r": truth_a.a_to_b[live],
            "true_feature": truth_a.a_to_b_index[live],
            "same_feature": same,
        }
    )
    r = pearson_with_ci(latents.importance.to_numpy(), latents.universality.to_numpy(), samples)
    agreement = pearson_with_ci(latents.universality.to_numpy(), same.astype(float), samples) if 0 < same.sum() < len(same) else None
    row = {
        "regime": a.regime,
        "width": a.width,
        "other": b.width,
        "live": int(live.sum()),
        "r": r.r,
        "r_low": r.low,
        "r_high": r.high,
        "mean_universality": float(latents.universality.mean()),
        "tracking_share": float(tracked_a.mean()),
        "same_feature_share": float(same.mean()),
        "universality_same_r": agreement.r if agreement else float("nan"),
        "universality_same_low": agreement.low if agreement else float("nan"),
        "universality_same_high": agreement.high if agreement else float("nan"),
        "represented": a.represented,
        "represented_other": b.represented,
        "recovered": int((truth_a.b_to_a > TRACKS).sum()),
    }
    return row, latents


def measure(cfg: GeometryConfig, runs: list[st.ToyRun]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The measurement in each regime the grid has, over consecutive pairs of ``planted_widths``
    (chapter 8's models of ``planted_family``, first seed): one row per (regime, pair) and one per
    live latent."""
    family = family_of(cfg)
    frequencies = family.frequencies(cfg.toy_features)
    features = evaluation_features(cfg, frequencies)
    truth = write_sparse(iter(features), paths.run_dir(cfg.preset, cfg.runs_dir or None) / "activations" / "toy" / "truth", cfg.toy_features)
    by_setting = {(r.family, r.decay, r.width): r for r in runs if r.seed == cfg.toy_seeds[0]}
    rows, latents = [], []
    for name, decay in regimes(cfg).items():
        widths = [read_width(cfg, by_setting[(family, decay, m)], name, features, truth, family) for m in sorted(cfg.planted_widths)]
        for a, b in zip(widths, widths[1:]):
            row, table = pair_rows(a, b, cfg.bootstrap_samples)
            rows.append(row)
            latents.append(table)
    return pd.DataFrame(rows), pd.concat(latents, ignore_index=True)


def reading(pairs: pd.DataFrame) -> dict[str, dict]:
    """Per regime: r's range over pairs and whether every pair's interval excludes 0; whether the
    universal latents are the ones whose partner tracks the same true feature (every pair's interval
    of r(universality, same feature) above 0: "yes"; below: "no"; else "inconclusive")."""
    out = {}
    for name, group in pairs.groupby("regime", sort=False):
        lows, highs = group.universality_same_low, group.universality_same_high
        agrees = "yes" if (lows > 0).all() else "no" if (highs < 0).all() else "inconclusive"
        out[name] = {
            "r_min": float(group.r.min()),
            "r_max": float(group.r.max()),
            "r_positive": bool((group.r_low > 0).all()),
            "same_feature_share": float(group.same_feature_share.mean()),
            "universal_track_same": agrees,
        }
    return out
