"""Chapter 7: the theory check at equal N: shapes of equal 12·L·d², SAE size sweeps at matched depth,
one-to-one matching across shapes and the frequency-shift rule."""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from helpers.chapters import equal_n
from helpers.chapters.configs import EqualNConfig
from helpers.core.provenance import ChapterRun

LARGEST_COLUMNS = ["explained_variance", "loss_recovered", "l0", "live", "load"]


#: The results files this chapter writes (beside provenance.json); a bundle holding another is refused.
RESULT_FILES = (
    "matched_loss.csv",
    "matched_loss_pairs.csv",
    "matched_pairs.csv",
    "models.csv",
    "sae_sweep.csv",
    "sparsity_sweep.csv",
    "summary.json",
)


@dataclass(frozen=True)
class EqualN:
    """What chapter 7 shows."""

    models: pd.DataFrame  # one row per (shape, seed): parameter counts, site, validation loss
    sweep: pd.DataFrame  # one row per (shape, seed, dictionary size): SAE quality and load
    pairs: pd.DataFrame  # one row per pair of models: matching shares and the frequency shift
    outcome: dict  # the loss premise, the shifts and their verdicts (also summary.json)
    by_shape: pd.DataFrame  # ``models``'s first row per shape, indexed by shape
    largest: pd.DataFrame  # the largest dictionary's means per shape (LARGEST_COLUMNS)
    widest: str  # shape names
    narrowest: str
    load_ratio: float  # load of the narrowest site over the widest's, largest dictionaries
    load_ratio_by_seed: list[float]  # the same ratio within each language-model seed
    width_ratio: float  # d_model of the widest shape over the narrowest's
    load_follows_width: bool  # see :func:`load_follows_width`
    matched: pd.DataFrame  # one row per model at matched loss: its step, loss and SAE
    matched_pairs: pd.DataFrame  # every pair of models at matched loss
    sparsity: pd.DataFrame  # one row per (shape, sparsity coefficient) at the largest dictionary
    at_ev: pd.DataFrame  # per shape: L0, live latents and load at one explained variance
    load_ratio_at_ev: float  # the narrowest site's load over the widest's there (NaN where a sweep falls short)


def compute(cfg: EqualNConfig, run: ChapterRun) -> EqualN:
    """Train the shapes and their SAE sweeps (cached), match latents and apply the rules."""
    measured = equal_n.run(cfg)
    models, sweep, pairs = measured.models, measured.sweep, measured.pairs
    outcome = equal_n.summary(cfg, measured)
    run.save_table("models", models)
    run.save_table("sae_sweep", sweep)
    run.save_table("matched_pairs", pairs)
    run.save_table("matched_loss", measured.matched)
    run.save_table("matched_loss_pairs", measured.matched_pairs)
    run.save_table("sparsity_sweep", measured.sparsity)
    run.save_json("summary", outcome)
    at_ev = pd.DataFrame.from_dict(outcome["at_explained_variance"]["by_shape"], orient="index")
    by_shape = models.drop_duplicates("shape").set_index("shape")
    widest, narrowest = by_shape.d_model.idxmax(), by_shape.d_model.idxmin()
    largest = sweep[sweep.d_sae == cfg.largest_dictionary].groupby("shape", sort=False)[LARGEST_COLUMNS].mean()
    load_ratio = float(largest.load[narrowest] / largest.load[widest])
    per_seed = sweep[sweep.d_sae == cfg.largest_dictionary].groupby(["lm_seed", "shape"]).load.mean().unstack("shape")
    by_seed = [float(v) for v in (per_seed[narrowest] / per_seed[widest]).dropna()]
    width_ratio = float(by_shape.d_model[widest] / by_shape.d_model[narrowest])
    return EqualN(
        models,
        sweep,
        pairs,
        outcome,
        by_shape,
        largest,
        widest,
        narrowest,
        load_ratio,
        by_seed,
        width_ratio,
        load_follows_width(load_ratio, width_ratio),
        measured.matched,
        measured.matched_pairs,
        measured.sparsity,
        at_ev,
        float(at_ev.load[narrowest] / at_ev.load[widest]),
    )


def load_follows_width(load_ratio: float, width_ratio: float) -> bool:
    """Whether the narrow site's load over the wide site's is nearer (in log) the ratio of widths
    — as if both sites held the same features at the same sparsity — than 1, as if each site
    filled its own capacity whatever its width."""
    return abs(math.log(load_ratio) - math.log(width_ratio)) < abs(math.log(load_ratio))
