"""Chapter 2: the theory note's Model A/B argument, the sparsity the bound demands, the fixes, toy models."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from helpers.chapters.configs import SuperpositionConfig
from helpers.core.provenance import ChapterRun
from helpers.theory import superposition as sp
from helpers.theory.toy_models import REPRESENTED_NORM, ToyModels, train_toy_models

STICKING_POINTS = np.array([1, 3 / 4, 2 / 3, 1 / 2, 2 / 5, 3 / 8])  # dimensions per feature of Elhage et al.'s polytopes
STICKING_TOLERANCE = 0.05  # a feature "sticks" when its dimensionality is this close to a sticking point
LOW_INVERSE_DENSITY = 5  # sticking is counted where 1/(1-S) is at most this
NULL_RANGE = (0.3, 1.0)  # the null spreads dimensionalities uniformly over this range


#: The results files this chapter writes (beside provenance.json); a bundle holding another is refused.
RESULT_FILES = (
    "capacity_ratio.csv",
    "cylinder.csv",
    "dimensions_per_feature.csv",
    "model_a_b.csv",
    "required_sparsity.csv",
    "toy_importance_demo.csv",
)


@dataclass(frozen=True)
class Superposition:
    """What chapter 2 shows."""

    model_a: sp.Shape
    model_b: sp.Shape
    comparison: pd.DataFrame  # quantities (rows) of A, B and B / A
    partner_sparsity: float  # S_B that keeps Model B at Model A's features per neuron
    required_sparsity: pd.DataFrame  # one row per (S_A, width ratio k)
    capacity_ratio: pd.DataFrame  # one row per k: capacity ratios of the speculative fixes
    cylinder: pd.DataFrame  # one row per stretch of the cylinder analogy
    demo: ToyModels  # toy models, every (sparsity, importance decay) pair
    dims: ToyModels  # the dimensions-per-feature sweep (one importance decay)
    dims_table: pd.DataFrame  # one row per sparsity of the sweep
    share_sticking: float  # share of represented features at a sticking point where 1/(1-S) ≤ LOW_INVERSE_DENSITY
    sticking_null: float  # the share that dimensionalities uniform over NULL_RANGE would reach


def compute(cfg: SuperpositionConfig, run: ChapterRun) -> Superposition:
    """Every number of chapter 2; trains the toy models (seconds on a CPU)."""
    torch.manual_seed(cfg.seed)
    model_a = sp.Shape(cfg.reference_n_layers, cfg.reference_d_model)
    model_b = sp.equal_parameter_partner(model_a, cfg.width_factor)
    comparison = sp.compare_shapes(model_a, model_b, cfg.n_features)
    run.save_table("model_a_b", comparison.reset_index(names="quantity"))
    s_b = float(sp.partner_sparsity(cfg.sparsity_a, float(comparison.loc["features per neuron", "B / A"])))

    grid = pd.DataFrame(
        [{"width ratio k": k, "S_A": s, "S_B required": float(sp.partner_sparsity(s, k))} for s in cfg.sparsities_a for k in cfg.width_factors]
    )
    grid["B's features rarer by"] = (1 - grid.S_A) / (1 - grid["S_B required"])
    run.save_table("required_sparsity", grid)

    fixes = pd.DataFrame(
        [
            {
                "width ratio k": k,
                "linear (b = 1)": float(sp.capacity_ratio(k, 1)),
                "b = 1.5": float(sp.capacity_ratio(k, 1.5)),
                "square term (b = 2)": float(sp.capacity_ratio(k, 2)),
            }
            for k in cfg.width_factors
        ]
    )
    run.save_table("capacity_ratio", fixes)
    cylinder = sp.cylinder(sorted({0.5, 1.0, *cfg.width_factors}))
    run.save_table("cylinder", cylinder)

    demo = train_toy_models(
        cfg.toy_features,
        cfg.toy_hidden,
        cfg.toy_sparsities,
        cfg.toy_decays,
        steps=cfg.toy_steps,
        batch_size=cfg.toy_batch,
        lr=cfg.learning_rate,
        seed=cfg.seed,
    )
    run.save_table(
        "toy_importance_demo",
        pd.DataFrame(
            {
                "sparsity": demo.sparsities,
                "importance_decay": demo.importance_decays,
                "represented": demo.represented(),
                "dimensions_per_feature": demo.dimensions_per_feature(),
                "final_loss": demo.final_loss,
            }
        ),
    )

    dims = train_toy_models(
        cfg.dims_features,
        cfg.dims_hidden,
        [1 - 1 / v for v in cfg.dims_inverse_densities],
        [1.0],
        steps=cfg.dims_steps,
        batch_size=cfg.dims_batch,
        lr=cfg.learning_rate,
        seed=cfg.seed,
    )
    dims_table = dimensions_table(dims, cfg.dims_hidden)
    run.save_table("dimensions_per_feature", dims_table)
    null = sp.sticking_null_share(STICKING_POINTS, *NULL_RANGE, STICKING_TOLERANCE)
    return Superposition(model_a, model_b, comparison, s_b, grid, fixes, cylinder, demo, dims, dims_table, sticking_share(dims), null)


def dimensions_table(dims: ToyModels, hidden: int) -> pd.DataFrame:
    """One row per sparsity: D*, features represented per hidden dimension, and the bound's degree
    where the bound's sparse branch applies (NaN elsewhere)."""
    bound = np.where(dims.sparsities >= sp.SPARSE_BRANCH_START, sp.degree_of_superposition(np.clip(dims.sparsities, 1e-9, 1 - 1e-12)), np.nan)
    return pd.DataFrame(
        {
            "sparsity": dims.sparsities,
            "inverse_density": 1 / (1 - dims.sparsities),
            "d_star": dims.dimensions_per_feature(),
            "represented": dims.represented(),
            "features_per_dimension": dims.represented() / hidden,
            "bound_degree": bound,
        }
    )


def sticking_share(dims: ToyModels) -> float:
    """Share of represented features (norm > REPRESENTED_NORM) whose dimensionality lies within
    STICKING_TOLERANCE of a sticking point, over the sweep's sparsities with 1/(1-S) ≤ LOW_INVERSE_DENSITY;
    NaN when there are none."""
    inverse_density = 1 / (1 - dims.sparsities)
    per_feature, norms = dims.feature_dimensionality(), dims.feature_norms()
    close = [
        np.abs(per_feature[i][norms[i] > REPRESENTED_NORM][:, None] - STICKING_POINTS).min(axis=1) < STICKING_TOLERANCE
        for i in np.flatnonzero(inverse_density <= LOW_INVERSE_DENSITY)
    ]
    return float(np.concatenate(close).mean()) if close else float("nan")
