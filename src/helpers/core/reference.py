"""The original run's published numbers (``data/original_run.yaml``), for comparison in the book."""

from __future__ import annotations

import functools
from importlib import resources
from typing import Any

import numpy as np
import pandas as pd
import yaml


@functools.cache
def original_run() -> dict[str, Any]:
    """The whole reference file as nested dicts and lists."""
    return yaml.safe_load(resources.files("helpers.core").joinpath("data/original_run.yaml").read_text())


def original_language_models() -> pd.DataFrame:
    """One row per width: N, heads, learning rate, final train and validation loss."""
    lm = original_run()["language_models"]
    return pd.DataFrame(
        {
            "d_model": lm["widths"],
            "n_heads": lm["n_heads"],
            "non_embedding_params": lm["non_embedding_params"],
            "learning_rate": lm["learning_rate"],
            "train_loss": lm["train_loss"],
            "val_loss": lm["val_loss"],
        }
    )


def original_saes() -> pd.DataFrame:
    """One row per width: the original SAEs' L0, explained variance, CE losses, loss recovered, dead latents."""
    saes = original_run()["saes"]
    columns = ["l0", "explained_variance", "ce_clean", "ce_spliced", "ce_ablated", "loss_recovered", "dead_latents"]
    return pd.DataFrame({"d_model": saes["widths"], **{c: saes[c] for c in columns}})


def original_r_grid() -> pd.DataFrame:
    """The original 4×4 table of r(importance, universality): rows scored, columns compared with."""
    u = original_run()["universality"]
    return pd.DataFrame(u["r_table"], index=pd.Index(u["widths"], name="d_model"), columns=pd.Index(u["widths"], name="against_d_model"), dtype=float)


def original_mean_r() -> float:
    """The talk's headline: the mean of its 4×4 table of r (diagonal left empty)."""
    return float(np.nanmean(original_r_grid().to_numpy(dtype=float)))


NUMBER_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")


def substitutions() -> dict[str, str]:
    """The original run's setup as MyST substitutions, so the narrative pages quote data, not typing."""
    lm, saes = original_run()["language_models"], original_run()["saes"]
    widths = [str(w) for w in lm["widths"]]
    layer = int(saes["slides_hook"].split(".")[1]) + 1
    return {
        "talk_n_models": NUMBER_WORDS[len(widths)],
        "talk_n_layers": str(lm["n_layers"]),
        "talk_widths": ", ".join(widths[:-1]) + " and " + widths[-1],
        "talk_sae_layer": f"{layer}th" if layer > 3 else ("1st", "2nd", "3rd")[layer - 1],
    }
