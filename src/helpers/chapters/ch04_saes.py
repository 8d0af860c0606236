"""Chapter 4: one SAE per (model, site), evaluated on identical held-out windows, and the spliced-loss scaling fits."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from helpers.chapters import model_suite, sae_suite
from helpers.chapters.configs import SAEsConfig
from helpers.core import reference
from helpers.core.provenance import ChapterRun
from helpers.lm.family import N_COLUMN
from helpers.sae.training import map_hook
from helpers.theory import scaling

#: The results files this chapter writes (beside provenance.json); a bundle holding another is refused.
RESULT_FILES = ("sae_metrics.csv", "spliced_loss_fits.csv")


@dataclass(frozen=True)
class SAEs:
    """What chapter 4 shows."""

    table: pd.DataFrame  # one row per (model, site): training settings, L0, explained variance, losses
    family: pd.DataFrame  # the width family's rows of ``table``
    fits: pd.DataFrame  # one row per (source, site, loss): power law of clean and spliced CE against N


def compute(cfg: SAEsConfig, run: ChapterRun) -> SAEs:
    """Train (or load) and evaluate every SAE of chapter 4 (each cached by its configuration)."""
    lm_cfg = cfg.language_models()
    _, data = model_suite.prepare_data(lm_cfg)
    trained = model_suite.train_all(lm_cfg, data)
    table = sae_suite.run(cfg, trained, data)
    run.save_table("sae_metrics", table)
    family = table[table.role.str.contains("family")]
    fits = spliced_loss_fits(family)
    run.save_table("spliced_loss_fits", fits)
    return SAEs(table, family, fits)


def spliced_loss_fits(family: pd.DataFrame) -> pd.DataFrame:
    """Power laws L = (N_c / N)^α of the clean and the SAE-spliced loss against N, per site of this run
    (``family``: rows of the width family) and for the original run's published table."""
    fits = []
    for site, rows in family.groupby("site"):
        for column in ("ce_clean", "ce_spliced"):
            fit = scaling.fit_power_law(rows[N_COLUMN], rows[column])
            fits.append({"source": "this run", "site": site, "loss": column, "alpha": fit.alpha, "n_c": fit.n_c, "r_squared": fit.r_squared})
    original, original_site = reference.original_saes(), reference.original_run()["saes"]["hook"]
    n_original = reference.original_language_models()["non_embedding_params"]
    for column in ("ce_clean", "ce_spliced"):
        fit = scaling.fit_power_law(n_original, original[column])
        fits.append(
            {
                "source": "original run",
                "site": original_site,
                "loss": column,
                "alpha": fit.alpha,
                "n_c": fit.n_c,
                "r_squared": fit.r_squared,
            }
        )
    return pd.DataFrame(fits)


#: Where each hook reads inside its block, as a fraction of one block (residual entering it, after
#: attention, after the whole block).
_WITHIN_BLOCK = {"hook_resid_pre": 0.0, "hook_resid_mid": 0.5, "hook_attn_out": 0.5, "hook_mlp_out": 1.0, "hook_resid_post": 1.0}


def relative_depth(hook: str, n_layers: int) -> float:
    """The share of an ``n_layers``-block model's blocks that have run where ``hook`` reads:
    ``blocks.6.hook_resid_pre`` of 8 blocks is 6/8."""
    parts = hook.split(".")
    if parts[0] != "blocks" or parts[-1] not in _WITHIN_BLOCK:
        raise ValueError(f"hook must be blocks.<i>.<one of {', '.join(_WITHIN_BLOCK)}>, got {hook!r}")
    return (int(parts[1]) + _WITHIN_BLOCK[parts[-1]]) / n_layers


def mapped_sites(cfg: SAEsConfig, n_layers: int) -> list[tuple[str, float, str, float]]:
    """For each of chapter 4's hooks: (hook, its relative depth in the family, the hook a model of
    ``n_layers`` blocks reads instead, that hook's relative depth), which may differ when the
    family's depth does not divide evenly."""
    family_layers = cfg.language_models().n_layers
    out = []
    for hook in cfg.hooks:
        mapped = map_hook(hook, family_layers, n_layers)
        out.append((hook, relative_depth(hook, family_layers), mapped, relative_depth(mapped, n_layers)))
    return out
