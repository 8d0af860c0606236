"""Chapter 6: r(importance, universality) along the language models' and the SAEs' training, and the rule that reads both axes."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from helpers.chapters import dynamics
from helpers.chapters.configs import DynamicsConfig
from helpers.core import results
from helpers.core.provenance import ChapterRun
from helpers.universality.fits import CI_LEVEL as CI_LEVEL  # cited by the chapter's prose

#: The results files this chapter writes (beside provenance.json); a bundle holding another is refused.
RESULT_FILES = ("r_along_training.csv", "stages.csv", "summary.json")


@dataclass(frozen=True)
class UntrainedBaseline:
    """r of the untrained models against the trained ones, each the mean over both directions."""

    r_untrained: float
    r_trained: float
    training_adds: bool  # the trained models' interval lies above the untrained ones' in both directions


@dataclass(frozen=True)
class TrainingDynamics:
    """What chapter 6 shows."""

    names: list[str]  # the pair of models, narrower first
    stages: pd.DataFrame  # one row per (axis, model, point): losses and SAE quality
    r_table: pd.DataFrame  # one row per (axis, point, direction): r with its interval over latents
    seed_spread: float  # spread of r over chapter 5's SAE seeds for this pair
    outcome: dict  # the rule's reading of both axes (also summary.json)
    untrained: UntrainedBaseline | None  # None when the points do not include the untrained models


def compute(cfg: DynamicsConfig, run: ChapterRun) -> TrainingDynamics:
    """Train SAEs along both training axes (cached), read them and correlate; needs chapter 5's results."""
    names = dynamics.pair_names(cfg)
    stages, r_table = dynamics.run(cfg)
    u_cfg = cfg.universality()
    pair_summary = results.table(cfg.preset, u_cfg.chapter, "pair_summary", cfg.runs_dir)
    spread = dynamics.seed_spread(pair_summary, u_cfg.analysis_site, names)
    outcome = dynamics.summary(r_table, names, spread)
    run.save_table("stages", stages)
    run.save_table("r_along_training", r_table)
    run.save_json("summary", outcome)
    return TrainingDynamics(names, stages, r_table, spread, outcome, untrained_baseline(r_table))


def untrained_baseline(r_table: pd.DataFrame) -> UntrainedBaseline | None:
    """Compare r at step 0 of the language models' training with r at its end: training adds to r
    only when, in every direction, the final interval's low end lies above the initial one's high end."""
    along = r_table[r_table.axis == dynamics.LM_AXIS]
    initial = along[along.lm_step == 0].set_index("scored").sort_index()
    final = along[along.lm_fraction == 1].set_index("scored").sort_index()
    if initial.empty:
        return None
    return UntrainedBaseline(float(initial.r.mean()), float(final.r.mean()), bool((final.r_low > initial.r_high).all()))
