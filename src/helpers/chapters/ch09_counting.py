"""Chapter 9: counting features. TopK SAEs of several sizes at chapter 5's site of every width and
language-model seed; the latents each width needs to reach a target error, and the spliced loss each
width gets from the same number of latents."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from helpers.chapters import counting
from helpers.chapters.configs import CountingConfig
from helpers.core.provenance import ChapterRun

#: The results files this chapter writes (beside provenance.json); a bundle holding another is refused.
RESULT_FILES = (
    "equal_n.csv",
    "error_laws.csv",
    "gets_more.csv",
    "needed.csv",
    "stores_more.csv",
    "summary.json",
    "sweep.csv",
    "width_penalty.csv",
)


@dataclass(frozen=True)
class Counting:
    """What chapter 9 shows."""

    sweep: pd.DataFrame  # one row per swept SAE of a trained model: its model, k, size, seed and quality
    untrained: pd.DataFrame  # the same for the untrained models' SAEs (the control)
    laws: pd.DataFrame  # error ≈ C·n^(−β) per (error, k, width)
    needed: pd.DataFrame  # n* per (error, k, width) with its range
    equal_n: pd.DataFrame  # the spliced loss per (k, size, width) with its range
    stores: pd.DataFrame  # the first claim per (error, width pair)
    gets: pd.DataFrame  # the second claim per width pair, with the split of the loss gap
    penalty: pd.DataFrame  # the first claim's untrained control per width pair
    summary: dict  # both verdicts and the split (also summary.json)


def compute(cfg: CountingConfig, run: ChapterRun) -> Counting:
    """Train (or find) every sweep and the untrained control, read n* and the spliced loss at equal n,
    apply the rules."""
    every, _ = counting.run(cfg)
    sweep, untrained = every[every.trained].reset_index(drop=True), every[~every.trained].reset_index(drop=True)
    laws = counting.error_laws(sweep)
    needed = counting.needed_table(cfg, sweep)
    equal_n = counting.at_equal_n(sweep)
    stores = counting.stores_more(cfg, needed, sweep)
    gets = counting.gets_more(cfg, equal_n, sweep)
    penalty = counting.width_penalty(cfg, sweep, untrained)
    summary = counting.summary(cfg, sweep, needed, stores, gets, penalty)
    tables = {"sweep": every, "error_laws": laws, "needed": needed, "equal_n": equal_n, "stores_more": stores, "gets_more": gets}
    for name, table in {**tables, "width_penalty": penalty}.items():
        run.save_table(name, table)
    run.save_json("summary", summary)
    return Counting(sweep, untrained, laws, needed, equal_n, stores, gets, penalty, summary)
