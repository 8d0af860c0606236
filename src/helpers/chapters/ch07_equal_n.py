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
RESULT_FILES = ("matched_pairs.csv", "models.csv", "sae_sweep.csv", "summary.json")


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


def compute(cfg: EqualNConfig, run: ChapterRun) -> EqualN:
    """Train the shapes and their SAE sweeps (cached), match latents and apply the rules."""
    models, sweep, pairs = equal_n.run(cfg)
    outcome = equal_n.summary(cfg, models, sweep, pairs)
    run.save_table("models", models)
    run.save_table("sae_sweep", sweep)
    run.save_table("matched_pairs", pairs)
    run.save_json("summary", outcome)
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
    )


def load_follows_width(load_ratio: float, width_ratio: float) -> bool:
    """Whether the narrow site's load over the wide site's is nearer (in log) the ratio of widths
    — as if both sites held the same features at the same sparsity — than 1, as if each site
    filled its own capacity whatever its width."""
    return abs(math.log(load_ratio) - math.log(width_ratio)) < abs(math.log(load_ratio))
