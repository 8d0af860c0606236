"""Chapter 1: scaling laws, parameter counts, compute-optimal allocation, shapes at fixed N, the talk's law refitted."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from helpers.chapters.configs import ScalingLawsConfig
from helpers.core import reference
from helpers.core.provenance import ChapterRun
from helpers.lm import family
from helpers.theory import scaling

TOKEN_BUDGETS = (1e8, 1e9, 1e10, 1e11)  # D of the L(N, D) curves
COMPUTE_LAWS = {"chinchilla": scaling.HOFFMANN_2022, "epoch": scaling.BESIROGLU_2024}
KAPLAN_FIGURE5 = {"n_layer": [6, 48], "d_model": [4288, 1600]}  # two shapes of nearly equal N in Kaplan et al.'s figure 5


#: The results files this chapter writes (beside provenance.json); a bundle holding another is refused.
RESULT_FILES = (
    "compute_optimal.csv",
    "equal_parameter_family.csv",
    "kaplan_figure5_shapes.csv",
    "kaplan_loss_curves.csv",
    "parameter_counts.csv",
    "talk_refit.json",
)


@dataclass(frozen=True)
class ScalingLaws:
    """What chapter 1 shows: every table it saves, and the grids and fits behind its figures."""

    n_grid: np.ndarray  # (curve_points,) non-embedding parameters
    d_grid: np.ndarray  # (curve_points,) training tokens
    curves: pd.DataFrame  # Kaplan's L(N) and L(N, D) on n_grid
    counts: pd.DataFrame  # one row per width: approximate and exact N
    compute_plan: pd.DataFrame  # one row per compute budget: N_opt, D_opt, loss per law
    figure5: pd.DataFrame  # Kaplan's two shapes of nearly equal N
    family: pd.DataFrame  # shapes of equal N from one reference shape
    family_slope: float  # d ln(total neurons) / d ln(aspect ratio) across the family
    talk: pd.DataFrame  # the talk's four models
    refit: scaling.PowerLawFit  # the talk's train losses against N
    refit_val: scaling.PowerLawFit  # the talk's validation losses against N


def compute(cfg: ScalingLawsConfig, run: ChapterRun) -> ScalingLaws:
    """Every number of chapter 1 (closed-form laws and small fits: no training)."""
    kaplan = scaling.KAPLAN_2020
    n_grid = np.logspace(5, 12, cfg.curve_points)
    d_grid = np.logspace(7, 12, cfg.curve_points)
    curves = pd.DataFrame({"n_params": n_grid, "loss_n": kaplan.loss_n(n_grid)})
    for d in TOKEN_BUDGETS:
        curves[f"loss_n_at_d_{d:.0e}"] = kaplan.loss(n_grid, d)
    run.save_table("kaplan_loss_curves", curves)

    counts = parameter_counts(cfg)
    run.save_table("parameter_counts", counts)

    compute_plan = compute_optimal(np.asarray(cfg.compute_budgets))
    run.save_table("compute_optimal", compute_plan)

    figure5 = pd.DataFrame(KAPLAN_FIGURE5)
    figure5["n_params"] = scaling.kaplan_parameter_count(figure5["n_layer"], figure5["d_model"])
    figure5["aspect_ratio"] = figure5["d_model"] / figure5["n_layer"]
    figure5["kaplan_loss_n"] = kaplan.loss_n(figure5["n_params"])
    run.save_table("kaplan_figure5_shapes", figure5)

    family = scaling.equal_parameter_family(cfg.family_n_layers, cfg.family_d_model, cfg.family_layers)
    run.save_table("equal_parameter_family", family)
    slope = np.polyfit(np.log(family["aspect_ratio"]), np.log(family["total_neurons"]), 1)[0] if len(family) > 1 else float("nan")

    talk = reference.original_language_models()
    published = reference.original_run()["language_models"]["fitted_law"]
    refit = scaling.fit_power_law(talk["non_embedding_params"], talk["train_loss"])
    refit_val = scaling.fit_power_law(talk["non_embedding_params"], talk["val_loss"])
    run.save_json(
        "talk_refit",
        {
            "published": published,
            "refit_train": {"n_c": refit.n_c, "alpha": refit.alpha, "r_squared": refit.r_squared},
            "refit_val": {"n_c": refit_val.n_c, "alpha": refit_val.alpha, "r_squared": refit_val.r_squared},
        },
    )
    return ScalingLaws(n_grid, d_grid, curves, counts, compute_plan, figure5, family, float(slope), talk, refit, refit_val)


def parameter_counts(cfg: ScalingLawsConfig) -> pd.DataFrame:
    """One row per width of the family: 12·L·d² beside the exact ``HookedTransformer`` count and the original run's."""
    original = reference.original_language_models().set_index("d_model")
    rows = []
    for shape in cfg.shapes():
        exact = family.non_embedding_parameters(shape, cfg.n_ctx, cfg.d_vocab)
        approx = float(scaling.kaplan_parameter_count(shape.n_layers, shape.d_model))
        rows.append(
            {
                "d_model": shape.d_model,
                "n_heads": shape.n_heads,
                "d_head": shape.d_head,
                "N ≈ 12·L·d²": approx,
                "N exact (HookedTransformer)": exact,
                "exact / approx": exact / approx,
                "training FLOPs per token (6N)": 6 * approx,
                "N in the original run": original["non_embedding_params"].get(shape.d_model, np.nan),
            }
        )
    return pd.DataFrame(rows)


def compute_optimal(budgets: np.ndarray) -> pd.DataFrame:
    """One row per compute budget (FLOPs): each law's compute-optimal N and D, tokens per parameter and loss."""
    plan = pd.DataFrame({"compute (FLOPs)": budgets})
    for key, law in COMPUTE_LAWS.items():
        n_opt, d_opt = law.compute_optimal(budgets)
        plan[f"{key}: N_opt"] = n_opt
        plan[f"{key}: D_opt"] = d_opt
        plan[f"{key}: tokens/param"] = d_opt / n_opt
        plan[f"{key}: loss"] = law.loss(n_opt, d_opt)
    return plan
