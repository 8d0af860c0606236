"""Chapter 8: the talk's claims with a verdict each, the new measurements, how this run differs from
the original; every number read from chapters 1 to 7's results files."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from helpers.chapters import verdicts
from helpers.chapters.configs import DiscussionConfig, LanguageModelsConfig, SAEsConfig, UniversalityConfig
from helpers.chapters.universality_suite import CROSS_WIDTH, loss_gap
from helpers.core import reference, results
from helpers.core.numbers import sci
from helpers.core.provenance import ChapterRun
from helpers.lm.family import model_name


@dataclass(frozen=True)
class Inputs:
    """The earlier chapters' results that chapter 8 reads."""

    refit: dict[str, Any]  # chapter 1: the talk's law refitted
    lm_fit: dict[str, Any]  # chapter 3: the family's loss law
    models: pd.DataFrame  # chapter 3: one row per model, indexed by name
    corpus: dict[str, Any]  # chapter 3: the corpus record
    sae_metrics: pd.DataFrame  # chapter 4
    spliced_fits: pd.DataFrame  # chapter 4
    intervals: pd.DataFrame  # chapter 5: r intervals by kind and by pair
    split: pd.DataFrame  # chapter 5: the shared-latent split
    fraction: dict[str, Any]  # chapter 5: the top-x% verdict
    shared: dict[str, Any]  # chapter 5: shared beyond the floors
    dynamics: dict[str, Any]  # chapter 6's summary
    equal_n: dict[str, Any]  # chapter 7's summary


@dataclass(frozen=True)
class PairPremise:
    """Chapter 3's equal-N pair against two seeds of one shape."""

    aspect_factor: float  # how many times apart the pair's aspect ratios are
    pair_gap: float  # |loss difference| of the pair (nats)
    seed_gap: float  # |loss difference| of two seeds of one shape (nats)
    holds: bool  # :func:`helpers.chapters.verdicts.equal_loss`


@dataclass(frozen=True)
class Discussion:
    """What chapter 8 shows."""

    inputs: Inputs
    lm_cfg: LanguageModelsConfig
    sae_cfg: SAEsConfig
    u_cfg: UniversalityConfig
    claims: pd.DataFrame  # one row per claim of the talk: this run's value, the rule, the verdict
    new: pd.DataFrame  # one row per new measurement: value, rule, answer
    differences: pd.DataFrame  # one row per setting: this run against the original
    premise: PairPremise


def read_inputs(cfg: DiscussionConfig) -> Inputs:
    """Every results file of chapters 1 to 7 that chapter 8 uses (a missing one names the chapter to run)."""

    def table(chapter: str, name: str) -> pd.DataFrame:
        return results.table(cfg.preset, chapter, name, cfg.runs_dir)

    def record(chapter: str, name: str) -> Any:
        return results.record(cfg.preset, chapter, name, cfg.runs_dir)

    return Inputs(
        refit=record("01_scaling_laws", "talk_refit"),
        lm_fit=record("03_language_models", "loss_fit"),
        models=table("03_language_models", "models").drop_duplicates("model").set_index("model"),
        corpus=record("03_language_models", "corpus"),
        sae_metrics=table("04_saes", "sae_metrics"),
        spliced_fits=table("04_saes", "spliced_loss_fits"),
        intervals=table("05_universality", "r_intervals"),
        split=table("05_universality", "shared_feature_split"),
        fraction=record("05_universality", "top_fraction_verdict"),
        shared=record("05_universality", "shared_features"),
        dynamics=record("06_training_dynamics", "summary"),
        equal_n=record("07_equal_n", "summary"),
    )


def compute(cfg: DiscussionConfig, run: ChapterRun) -> Discussion:
    """Read the earlier chapters' results, apply every rule and write the three tables."""
    inputs = read_inputs(cfg)
    u_cfg = cfg.chapter_config(UniversalityConfig)
    sae_cfg = u_cfg.saes()
    lm_cfg = sae_cfg.language_models()
    claims = claims_table(inputs, u_cfg.analysis_site, cfg.preset)
    new = new_measurements(inputs, u_cfg.analysis_site, u_cfg.match_threshold, cfg.preset)
    run.save_table("claims", claims)
    run.save_table("new_measurements", new)
    differences = differences_table(inputs, lm_cfg, sae_cfg, u_cfg, cfg.preset)
    run.save_table("differences", differences)
    return Discussion(inputs, lm_cfg, sae_cfg, u_cfg, claims, new, differences, pair_premise(inputs, lm_cfg))


def claims_table(inputs: Inputs, site: str, rung: str) -> pd.DataFrame:
    """The talk's three claims: what it reported, what this run (``rung``) measured, the rule and its verdict."""
    original = reference.original_run()
    lm_fit, fraction = inputs.lm_fit, inputs.fraction
    intervals = inputs.intervals
    cross = intervals[(intervals.site == site) & (intervals.kind == CROSS_WIDTH) & (intervals.level == "kind")].iloc[0]
    top = original["universality"]["top_fraction_alpha"]
    law = verdicts.power_law(lm_fit["r_squared"])
    importance = verdicts.importance_predicts_universality(cross.r_low, cross.r_high)
    return pd.DataFrame(
        [
            {
                "claim": "loss falls as a power of N across widths",
                "talk": f"α = {original['language_models']['fitted_law']['alpha']:.4f}",
                rung: f"α = {lm_fit['alpha']:.4f}, R² = {lm_fit['r_squared']:.3f}",
                "rule": law.rule,
                "verdict": law.verdict,
            },
            {
                "claim": "importance predicts universality",
                "talk": f"mean r = {reference.original_mean_r():.3f} (no interval)",
                rung: f"mean r = {cross.r:.3f} [{cross.r_low:.3f}, {cross.r_high:.3f}]",
                "rule": importance.rule,
                "verdict": importance.verdict,
            },
            {
                "claim": "larger models store more features (top-x% exponent rises)",
                "talk": f"≈{top['low']:.2f} → ≈{top['high']:.2f}, no control",
                rung: fraction["reason"],
                "rule": "α(top x%) below the random-x% and least-important-x% controls at every x < 1, "
                f"each power law with R² ≥ {fraction['min_r_squared']:g}",
                "verdict": verdicts.top_fraction(fraction["verdict"]),
            },
        ]
    )


def new_measurements(inputs: Inputs, site: str, tau: float, rung: str) -> pd.DataFrame:
    """Measurements the talk did not make, each with its rule and answer (yes, no, inconclusive)."""
    shared, equal_n, dynamics = inputs.shared, inputs.equal_n, inputs.dynamics
    fits = inputs.spliced_fits
    ours_fits = fits[(fits.source == "this run") & (fits.site == site)].set_index("loss").alpha
    at_tau = inputs.split[inputs.split.tau == tau]
    beats = int((at_tau.loss_wide_matched < at_tau.loss_wide_random).sum())
    steeper = verdicts.YES if ours_fits["ce_spliced"] > ours_fits["ce_clean"] else verdicts.NO
    return pd.DataFrame(
        [
            {
                "measurement": "latents are shared across widths beyond the floors",
                rung: f"mean universality {shared['cross_mean']:.3f} (pairs {shared['cross_min']:.3f}–{shared['cross_max']:.3f}); floors: "
                + ", ".join(f"{k} {v:.3f}" for k, v in shared["floors"].items()),
                "rule": shared["rule"],
                "answer": shared["verdict"],
            },
            {
                "measurement": f"shared latents (τ = {tau:g}) close more of the loss gap than a random subset of the same size",
                rung: f"{beats} of {len(at_tau)} width pairs",
                "rule": "all pairs: yes; none: no; else inconclusive",
                "answer": verdicts.every_case(beats, len(at_tau)),
            },
            {
                "measurement": "spliced losses scale more steeply than clean ones",
                rung: f"α {ours_fits['ce_spliced']:.4f} vs {ours_fits['ce_clean']:.4f}",
                "rule": "α_spliced > α_clean",
                "answer": steeper,
            },
            {
                "measurement": f"shapes of equal N reach comparable loss (chapter 7: {', '.join(equal_n['shapes'])})",
                rung: f"largest gap {equal_n['loss']['gap_nats']:.3f} nats = {equal_n['loss']['relative_gap']:.1%} "
                f"(seeds of one shape: up to {equal_n['loss']['seed_spread_nats']:.3f})",
                "rule": f"relative gap ≤ {equal_n['loss']['tolerance']:.0%}",
                "answer": verdicts.YES if equal_n["loss"]["comparable"] else verdicts.NO,
            },
            {
                "measurement": "latents matched across equal-N shapes fire at the rate the bound asks of the narrower site",
                rung: "; ".join(f"{s['narrower']} vs {s['wider']}: {s['verdict']}" for s in equal_n["shifts"]),
                "rule": equal_n["rule"],
                "answer": verdicts.bound_rate([s["verdict"] for s in equal_n["shifts"]]),
            },
            *(
                {
                    "measurement": f"r grows as the {axis} train (chapter 6: {' vs '.join(dynamics['pair'])})",
                    rung: f"r {values['r_first']:.3f} → {values['r_last']:.3f} (SAE-seed spread {dynamics['seed_spread']:.3f})",
                    "rule": dynamics["rule"],
                    "answer": verdicts.YES if values["direction"] == "rises" else verdicts.NO,
                }
                for axis, values in dynamics["axes"].items()
            ),
        ]
    )


def pair_premise(inputs: Inputs, lm_cfg: LanguageModelsConfig) -> PairPremise:
    """Chapter 3's equal-N pair's loss gap against its seed control's."""
    losses = inputs.models.final_val_loss
    deep, wide = (model_name(layers, width) for layers, width in (lm_cfg.pair_a, lm_cfg.pair_b))
    seeded = model_name(lm_cfg.n_layers, lm_cfg.seed_control_width)
    control = model_name(lm_cfg.n_layers, lm_cfg.seed_control_width, f"seed{lm_cfg.control_seed}")
    pair_gap = loss_gap(losses[deep], losses[wide])
    seed_gap = loss_gap(losses[seeded], losses[control])
    aspect_factor = (lm_cfg.pair_b[1] / lm_cfg.pair_b[0]) / (lm_cfg.pair_a[1] / lm_cfg.pair_a[0])
    return PairPremise(aspect_factor, pair_gap, seed_gap, verdicts.equal_loss(pair_gap, seed_gap))


def differences_table(inputs: Inputs, lm_cfg: LanguageModelsConfig, sae_cfg: SAEsConfig, u_cfg: UniversalityConfig, preset: str) -> pd.DataFrame:
    """One row per setting where this run and the original differ."""
    original = reference.original_run()
    lm_original, sae_original, u_original = original["language_models"], original["saes"], original["universality"]
    stat_tokens = u_cfg.stat_windows * sae_cfg.sae_context
    return pd.DataFrame(
        [
            ("corpus", inputs.corpus["description"], lm_original["corpus"]),
            ("training tokens per model", sci(lm_cfg.train_tokens), sci(lm_original["train_tokens"])),
            ("widths (d_model)", ", ".join(map(str, lm_cfg.widths)), ", ".join(map(str, lm_original["widths"]))),
            ("layers", str(lm_cfg.n_layers), str(lm_original["n_layers"])),
            ("context (tokens)", str(lm_cfg.n_ctx), str(lm_original["context"])),
            ("vocabulary", f"{lm_cfg.d_vocab:,}", f"{lm_original['vocabulary']:,}"),
            ("SAE site analysed", u_cfg.analysis_site, sae_original["hook"]),
            (
                "SAE architecture and latents",
                f"{sae_cfg.architecture}, {sae_cfg.d_sae:,}",
                f"{sae_original['architecture']}, {sae_original['d_sae']:,}",
            ),
            ("SAE training tokens", sci(sae_cfg.sae_training_tokens), sci(sae_original["training_tokens"])),
            ("tokens for the statistics", sci(stat_tokens), sci(u_original["eval_tokens"])),
            ("SAEs per model at the analysed site", f"{u_cfg.sae_seeds} (different seeds)", "1"),
            ("windows for the statistics", "held-out (validation split)", "random windows of the training split"),
            (f"SAE learning-rate decay (final {sae_cfg.lr_decay_fraction:.0%} of steps)", "to a tenth", "to 0"),
            ("language-model dropout", "none", "0.1"),
            ("dead latents", "left out" if not u_cfg.epsilon else "original arithmetic", "pseudo-count: universality ≈ 1"),
            ("clustered latents removed", "none", ", ".join(map(str, u_original["clustered_latents_dropped"]))),
        ],
        columns=["", f"this run ({preset})", "original"],
    )
