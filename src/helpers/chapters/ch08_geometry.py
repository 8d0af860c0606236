"""Chapter 8: does superposition make the scaling law? The toy grid of Liu, Liu & Gore in both
regimes, the token geometry of the book's language models, and their loss against width and depth."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from helpers.chapters import equal_n, geometry, model_suite, planted
from helpers.chapters.configs import EqualNConfig, GeometryConfig, LanguageModelsConfig, SuperpositionConfig
from helpers.core import hardware, paths
from helpers.core.provenance import ChapterRun
from helpers.lm.training import train_model
from helpers.theory import scaling_toy as st

#: The results files this chapter writes (beside provenance.json); a bundle holding another is refused.
RESULT_FILES = (
    "planted.csv",
    "planted_latents.csv",
    "summary.json",
    "token_geometry.csv",
    "toy_exponents.csv",
    "toy_norms.csv",
    "toy_runs.csv",
    "width_depth.csv",
    "width_law.csv",
)
#: The talk's widest model (8 layers of width 768): the N at which the valley is read for the talk.
TALK_SHAPE = (8, 768)
#: Bins of the toy models' row-norm histograms.
NORM_BINS = np.linspace(0.0, 2.0, 41)


@dataclass(frozen=True)
class Geometry:
    """What chapter 8 shows."""

    toy: pd.DataFrame  # one row per toy model (width, family, γ, seed)
    norms: pd.DataFrame  # row-norm histograms of the first seed's toy models
    exponents: pd.DataFrame  # one row per (family, γ): α_m, the paper's value, convergence, verdict
    tokens: pd.DataFrame  # one row per language model: token-row norms and overlaps
    width_law: pd.DataFrame  # this run's L = C/m^α_m + L∞
    depth: pd.DataFrame  # one row per shape: loss, seed spread, in-sample and left-out predictions
    planted: pd.DataFrame  # the talk's measurement on the toy models' SAEs: one row per (regime, width pair)
    planted_latents: pd.DataFrame  # one row per live latent of those SAEs, with its true feature
    summary: dict  # the fits, the readings and the verdicts (also summary.json)


def language_models(cfg: GeometryConfig, lm_cfg: LanguageModelsConfig, eq_cfg: EqualNConfig) -> tuple[pd.DataFrame, dict, object]:
    """Every trained model of chapters 3 and 7 and of ``depth_shapes`` (read from their caches, or
    trained with chapter 3's recipe) as one table (model, role, n_layers, d_model, seed,
    final_val_loss, train_tokens), their weights by name, and the token data."""
    _, data = model_suite.prepare_data(lm_cfg)
    trained = {**model_suite.train_all(lm_cfg, data), **equal_n.train_models(eq_cfg, data)}
    folder, device = paths.models_dir(cfg.preset, cfg.runs_dir or None), hardware.resolve_device(cfg.device)
    for planned in geometry.plan(cfg):
        if planned.name not in trained:
            trained[planned.name] = train_model(planned.name, planned.shape, data, model_suite.settings_for(lm_cfg, planned.seed), folder, device)
    rows = {}
    for planned in [*model_suite.plan(lm_cfg), *equal_n.plan(eq_cfg), *geometry.plan(cfg)]:
        rows.setdefault(
            planned.name,
            {
                "model": planned.name,
                "role": planned.role,
                "n_layers": planned.shape.n_layers,
                "d_model": planned.shape.d_model,
                "seed": planned.seed,
                "final_val_loss": float(trained[planned.name].summary["final_val_loss"]),
                "train_tokens": int(trained[planned.name].summary["train_tokens"]),
            },
        )
    return pd.DataFrame(rows.values()), trained, data


def embedding_rows(name: str, model, role: str, trained: bool, seed: int, loss: float) -> dict:
    weights = model.transformer.wte.weight.detach().double().cpu().numpy()
    return {"model": name, "role": role, "trained": trained, "seed": seed, "val_loss": loss, **geometry.token_geometry(weights, seed)}


def compute(cfg: GeometryConfig, run: ChapterRun) -> Geometry:
    """Train the toy grid (cached per width), read every language model's embedding, fit the laws."""
    runs, doubled = geometry.train_grid(cfg)
    toy = geometry.toy_rows(runs, cfg.toy_features)
    norms = geometry.norm_histograms(runs, NORM_BINS)
    exponents = geometry.toy_exponents(cfg, runs, doubled)
    planted_pairs, planted_latents = planted.measure(cfg, runs)

    lm_cfg, eq_cfg = cfg.chapter_config(LanguageModelsConfig), cfg.chapter_config(EqualNConfig)
    models, trained, data = language_models(cfg, lm_cfg, eq_cfg)
    untrained = model_suite.untrained_models(lm_cfg, data)
    rows = [embedding_rows(r.model, trained[r.model].model, r.role, True, r.seed, r.final_val_loss) for r in models.itertuples()]
    rows += [embedding_rows(name, m.model, "family", False, int(m.summary["seed"]), float("nan")) for name, m in untrained.items()]
    tokens = pd.DataFrame(rows).merge(models[["model", "n_layers", "d_model"]], on="model", how="left")
    tokens["n_layers"] = tokens.n_layers.fillna(lm_cfg.n_layers).astype(int)
    tokens["d_model"] = tokens.m.astype(int)
    counts = np.bincount(np.asarray(data.train), minlength=lm_cfg.d_vocab)
    zipf = st.frequency_exponent(counts)

    family = models[models.role.isin(["family", "seed control"]) & (models.n_layers == lm_cfg.n_layers)]
    law = geometry.width_exponent(cfg.preset, [family], cfg.bootstrap_samples)
    rival = geometry.quanta_alpha_m(zipf.exponent)
    law_record = law_row(law, family)
    width_law = pd.DataFrame([law_record])

    shapes = models  # every model of chapters 3 and 7 reads chapter 3's token budget
    superposition = cfg.chapter_config(SuperpositionConfig)
    book_n = float(12 * eq_cfg.shapes[0][0] * eq_cfg.shapes[0][1] ** 2)
    talk_n = float(12 * TALK_SHAPE[0] * TALK_SHAPE[1] ** 2)
    depth, depth_record = geometry.width_depth(
        shapes,
        book_n,
        talk_n,
        (superposition.reference_n_layers, superposition.reference_d_model),
        eq_cfg.loss_tolerance,
        min(cfg.bootstrap_samples, 200),
    )
    summary = {
        "toy": {
            "features": cfg.toy_features,
            "widths": cfg.toy_widths,
            "steps": cfg.toy_steps,
            "verdicts": exponents.verdict.value_counts().to_dict(),
        },
        "zipf": {"exponent": zipf.exponent, "r_squared": zipf.r_squared},
        "width_law": law_record,
        "quanta_alpha_m": rival,
        "interference": dict(zip(("verdict", "reason"), geometry.width_verdict(law, rival))),
        "token_geometry": dict(zip(("verdict", "reason"), geometry.geometry_verdict(tokens, lm_cfg.d_vocab))),
        "overlap_scaling": geometry.overlap_scaling(tokens),
        "width_depth": depth_record,
        "gaps": dict(zip(("verdict", "reason"), geometry.gaps_verdict(depth, [tuple(s) for s in eq_cfg.shapes]))),
        "planted": planted.reading(planted_pairs),
        "tokens_per_parameter": [float(t / (12 * layers * d**2)) for t, layers, d in zip(family.train_tokens, family.n_layers, family.d_model)],
    }
    run.save_table("toy_runs", toy)
    run.save_table("toy_norms", norms)
    run.save_table("toy_exponents", exponents)
    run.save_table("token_geometry", tokens)
    run.save_table("width_law", width_law)
    run.save_table("width_depth", depth)
    run.save_table("planted", planted_pairs)
    run.save_table("planted_latents", planted_latents)
    run.save_json("summary", summary)
    return Geometry(toy, norms, exponents, tokens, width_law, depth, planted_pairs, planted_latents, summary)


def law_row(law: geometry.WidthExponent, family: pd.DataFrame) -> dict:
    """One row of the width-law table: α_m with its interval, R², the offset L∞ and its share of the
    loss at the narrowest and the widest width."""
    offset = law.offsets[0] if len(law.offsets) == 1 else float("nan")
    by_width = family.groupby("d_model").final_val_loss.mean()
    return {
        "rung": law.label,
        "alpha_m": law.alpha,
        "alpha_low": law.low,
        "alpha_high": law.high,
        "r_squared": law.r_squared,
        "points": law.n_points,
        "interval": law.interval,
        "offset": offset,
        "offset_share_narrowest": offset / by_width.iloc[0],
        "offset_share_widest": offset / by_width.iloc[-1],
    }
