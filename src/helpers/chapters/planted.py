"""The talk's measurement where the features are known: chapter 5's importance and universality on
SAEs trained on the hidden vectors h = xW of chapter 8's toy models, beside the truth.

Every width of one frequency family and seed, in the strong and in the weak regime, reads the same
sparse features x (the same samples for every width, as every language model reads the same tokens).
An SAE per (regime, width) is trained with SAELens on fresh hidden vectors; its latents over a fixed
evaluation set are stored as chapter 5 stores them, and the same engine gives each latent's
importance (its max activation over the SAE's largest) and universality (its max Pearson correlation
with any latent of the next width's SAE). The true features x are one more sparse store, so the same
engine gives each latent's best true feature and how well it tracks it.

Two controls of the same kind sit beside the trained pairs: a second SAE seed of the same width
(how universal a latent is when nothing but the SAE's seed differs), and the untrained toy models of
the same widths (their starting weights, W ~ N(0, 1/m)): what r the measurement gives when no model
has learned which features matter.
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
#: The control's name among the regimes: the untrained models of the same widths.
UNTRAINED = "untrained"
#: Kinds of pair: two widths at one SAE seed, or one width at two SAE seeds.
WIDTH_PAIR, SEED_PAIR = "width pair", "SAE seed pair"


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


def sae_settings(cfg: GeometryConfig, replicate: int) -> SAESettings:
    """The toy SAE of SAE replicate ``replicate`` (seed: the chapter's seed plus the replicate)."""
    return SAESettings(
        architecture="topk",
        d_sae=cfg.planted_d_sae or cfg.toy_features,
        k=cfg.planted_k,
        lr=cfg.planted_lr,
        training_tokens=cfg.planted_samples,
        batch_tokens=cfg.planted_batch,
        seed=cfg.seed + replicate,
    )


@dataclasses.dataclass(frozen=True)
class Width:
    """One (regime, width, SAE replicate): its SAE's latents over the evaluation set, each latent's
    best true feature (the engine's maximum correlations against the true features' store), and how
    many features the toy model represents (rows of norm above ½)."""

    regime: str
    width: int
    latents: SparseActivations
    truth: MaxCorrelation
    represented: int
    replicate: int = 0


def models(cfg: GeometryConfig, runs: list[st.ToyRun]) -> dict[str, dict[int, np.ndarray]]:
    """The weights W (n, m) read per regime and width: chapter 8's trained models of
    ``planted_family`` at its first seed in the strong and the weak regime, and the untrained
    models of the same widths (that seed's starting weights)."""
    family = family_of(cfg)
    seed = cfg.toy_seeds[0]
    by_setting = {(r.family, r.decay, r.width): r.weights for r in runs if r.seed == seed}
    widths = sorted(cfg.planted_widths)
    out = {name: {m: by_setting[(family, decay, m)] for m in widths} for name, decay in regimes(cfg).items()}
    out[UNTRAINED] = {m: st.initial_parameters(cfg.toy_features, m, seed)[0].double().numpy() for m in widths}
    return out


def read_width(
    cfg: GeometryConfig,
    regime_name: str,
    weights: np.ndarray,
    replicate: int,
    features: list[torch.Tensor],
    truth: SparseActivations,
    family: st.FrequencyFamily,
) -> Width:
    """Train (or find) the SAE of one toy model of weights W (n, m) at one SAE replicate, store its
    latents over the evaluation set and match them to the true features once."""
    width = weights.shape[1]
    vectors = torch.tensor(weights, dtype=torch.float32)
    frequencies = family.frequencies(cfg.toy_features)
    run_dir = paths.run_dir(cfg.preset, cfg.runs_dir or None)
    batches = hidden_batches(frequencies, vectors, cfg.planted_batch, cfg.seed + TRAINING_STREAM + replicate)
    folder = train_sae_on_vectors(
        f"{regime_name}-m{width}", batches, width, toy_key(weights, family), sae_settings(cfg, replicate), run_dir / "saes" / "toy"
    )
    sae = load_sae(folder)
    store = run_dir / "activations" / "toy" / f"{Path(folder).name}-e{cfg.planted_eval_samples}"
    with torch.no_grad():
        latents = write_sparse((sae.encode(x @ vectors) for x in features), store, sae.cfg.d_sae)
    represented = int((st.row_norms(weights) > st.REPRESENTED_NORM).sum())
    return Width(regime_name, width, latents, max_correlations(latents, truth), represented, replicate)


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
            "sae_replicate": a.replicate,
            "other_replicate": b.replicate,
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
        "pair": WIDTH_PAIR if a.width != b.width else SEED_PAIR,
        "width": a.width,
        "other": b.width,
        "sae_replicate": a.replicate,
        "other_replicate": b.replicate,
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
    """The measurement in each regime the grid has and on the untrained models, for every SAE
    replicate: consecutive pairs of ``planted_widths`` at one replicate, and each width against its
    own second replicate. One row per pair; one per live latent of the width pairs."""
    family = family_of(cfg)
    frequencies = family.frequencies(cfg.toy_features)
    features = evaluation_features(cfg, frequencies)
    truth = write_sparse(iter(features), paths.run_dir(cfg.preset, cfg.runs_dir or None) / "activations" / "toy" / "truth", cfg.toy_features)
    replicates = range(cfg.planted_sae_seeds)
    rows, latents = [], []
    for name, weights in models(cfg, runs).items():
        read = {(m, s): read_width(cfg, name, w, s, features, truth, family) for m, w in weights.items() for s in replicates}
        widths = sorted(weights)
        pairs = [(read[a, s], read[b, s]) for s in replicates for a, b in zip(widths, widths[1:])]
        pairs += [(read[m, 0], read[m, 1]) for m in widths if len(replicates) > 1]
        for a, b in pairs:
            row, table = pair_rows(a, b, cfg.bootstrap_samples)
            rows.append(row)
            if row["pair"] == WIDTH_PAIR:
                latents.append(table)
    return pd.DataFrame(rows), pd.concat(latents, ignore_index=True)


def _interval_order(lows: pd.Series, highs: pd.Series, control_lows: pd.Series, control_highs: pd.Series) -> str:
    """ "above" when every interval lies above every control interval, "below" when every one lies
    below, "overlaps" otherwise (or with no control)."""
    if control_lows.empty:
        return "overlaps"
    if lows.min() > control_highs.max():
        return "above"
    if highs.max() < control_lows.min():
        return "below"
    return "overlaps"


def reading(pairs: pd.DataFrame) -> dict[str, dict]:
    """Per regime (the untrained control included), over every width pair and SAE replicate: r's
    range and whether every interval excludes 0; whether the universal latents are the ones whose
    partner tracks the same true feature (every interval of r(universality, same feature) above 0:
    "yes"; below: "no"; else "inconclusive"); the mean universality across widths and across SAE
    seeds of one width; and, for a trained regime, where its r intervals lie against the untrained
    models' ("above", "below" or "overlaps")."""
    widths, seeds = pairs[pairs.pair == WIDTH_PAIR], pairs[pairs.pair == SEED_PAIR]
    control = widths[widths.regime == UNTRAINED]
    out = {}
    for name, group in widths.groupby("regime", sort=False):
        lows, highs = group.universality_same_low, group.universality_same_high
        agrees = "yes" if (lows > 0).all() else "no" if (highs < 0).all() else "inconclusive"
        seed_group = seeds[seeds.regime == name]
        out[name] = {
            "r_min": float(group.r.min()),
            "r_max": float(group.r.max()),
            "r_positive": bool((group.r_low > 0).all()),
            "pairs": len(group),
            "same_feature_share": float(group.same_feature_share.mean()),
            "universal_track_same": agrees,
            "mean_universality": float(group.mean_universality.mean()),
            "seed_universality": float(seed_group.mean_universality.mean()) if len(seed_group) else float("nan"),
            "recovered": float(group.recovered.mean()),
            "represented": float(group.represented.mean()),
        }
        if name != UNTRAINED:
            out[name]["against_untrained"] = _interval_order(group.r_low, group.r_high, control.r_low, control.r_high)
    return out


#: How a trained regime's r stands against the untrained models', in prose.
AGAINST_UNTRAINED = {
    "above": "every interval lies above those of the untrained models' width pairs",
    "below": "every interval lies below those of the untrained models' width pairs",
    "overlaps": "the intervals overlap those of the untrained models' width pairs",
}
#: The same, as an answer.
AGAINST_ANSWER = {"above": "above", "below": "below", "overlaps": "not separable from"}


def describe(found: dict[str, dict]) -> str:
    """The reading of :func:`reading` in sentences, the untrained control last."""
    sentences = []
    for name, v in found.items():
        kind = "untrained models" if name == UNTRAINED else f"{name} regime"
        sentence = (
            f"In the {kind} r ranges from {v['r_min']:.2f} to {v['r_max']:.2f} over its {v['pairs']} width pairs (every SAE seed) "
            f"({'every interval above 0' if v['r_positive'] else 'not every interval above 0'}"
            + (f"; {AGAINST_UNTRAINED[v['against_untrained']]}" if "against_untrained" in v else "")
            + f"); the mean universality is {v['mean_universality']:.2f} across widths"
            + (f" and {v['seed_universality']:.2f} between two SAE seeds of one width" if np.isfinite(v["seed_universality"]) else "")
            + f"; {v['same_feature_share']:.0%} of the latents have a partner that tracks the same true feature, and the universal latents "
            + {"yes": "are", "no": "are not"}.get(v["universal_track_same"], "cannot be told to be")
            + f" the ones that do; an SAE recovers {v['recovered']:.0f} true features on average, its model representing {v['represented']:.0f}."
        )
        sentences.append(sentence)
    return " ".join(sentences)


def _interval(r: float, low: float, high: float) -> str:
    return "–" if np.isnan(r) else f"{r:.2f} [{low:.2f}, {high:.2f}]"


def table(pairs: pd.DataFrame) -> pd.DataFrame:
    """The pair rows for reading: one row per (regime, pair), its SAE seeds joined (intervals listed
    seed by seed, shares and counts averaged), with display names."""
    rows = []
    for (regime_name, kind, width, other), group in pairs.groupby(["regime", "pair", "width", "other"], sort=False):
        rows.append(
            {
                "regime": regime_name,
                "pair": f"m = {width} → {other}" if kind == WIDTH_PAIR else f"m = {width}, two SAE seeds",
                "r (importance, universality)": "; ".join(_interval(r, lo, hi) for r, lo, hi in zip(group.r, group.r_low, group.r_high)),
                "mean universality": f"{group.mean_universality.mean():.2f}",
                "track a true feature": f"{group.tracking_share.mean():.0%}",
                "partner tracks the same": f"{group.same_feature_share.mean():.0%}",
                "r (universality, same feature)": "; ".join(
                    _interval(r, lo, hi) for r, lo, hi in zip(group.universality_same_r, group.universality_same_low, group.universality_same_high)
                ),
                "features represented": int(group.represented.iloc[0]),
                "features recovered": f"{group.recovered.mean():.0f}",
            }
        )
    return pd.DataFrame(rows)


def summary_line(found: dict[str, dict]) -> str:
    """One sentence per trained regime: r's range against the untrained models' (the chapter's answer)."""
    control = found.get(UNTRAINED)
    parts = []
    for name, v in found.items():
        if name == UNTRAINED or control is None:
            continue
        parts.append(
            f"in the {name} regime r is {v['r_min']:.2f} to {v['r_max']:.2f}, {AGAINST_ANSWER[v['against_untrained']]} "
            f"the untrained models' {control['r_min']:.2f} to {control['r_max']:.2f}"
        )
    return ("On planted features, " + "; ".join(parts) + ".") if parts else ""
