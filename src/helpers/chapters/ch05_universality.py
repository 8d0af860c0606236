"""Chapter 5: importance against universality for every pair of SAEs, with fits, intervals, floors,
ceilings, one-to-one matching, the top-x% splice against its controls, the shared-latent split and
top-activating examples."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from helpers.chapters import latent_browser, model_suite, sae_suite, verdicts
from helpers.chapters import universality_suite as suite_
from helpers.chapters.configs import UniversalityConfig
from helpers.core import results
from helpers.core.parameters import ParameterError
from helpers.core.provenance import ChapterRun
from helpers.lm.family import N_COLUMN, model_name
from helpers.theory import scaling
from helpers.theory.scaling import PowerLawFit
from helpers.universality.correlation import MaxCorrelation, max_correlations, with_original_arithmetic
from helpers.universality.fits import CI_LEVEL as CI_LEVEL  # the fit's settings, cited by the chapter's prose
from helpers.universality.fits import ORIGINAL_BOUNDS as ORIGINAL_BOUNDS
from helpers.universality.fits import ORIGINAL_MAXFEV as ORIGINAL_MAXFEV
from helpers.universality.fits import ORIGINAL_STARTS as ORIGINAL_STARTS
from helpers.universality.fits import SHAPES as SHAPES

#: The results files this chapter writes (beside provenance.json); a bundle holding another is refused.
RESULT_FILES = (
    "controls.csv",
    "examples.csv",
    "kind_intervals.csv",
    "latent_browser.json",
    "latents.csv",
    "pair_summary.csv",
    "r_grid.csv",
    "r_intervals.csv",
    "saes.csv",
    "shared_feature_split.csv",
    "top_fraction_losses.csv",
    "top_fraction_slopes.csv",
    "top_fraction_verdict.json",
    "verdicts.json",
    "width_counts.csv",
    "window_check.csv",
)


@dataclass(frozen=True)
class Universality:
    """What chapter 5 shows; every table is also a results file (``latents`` keeps first replicates)."""

    suite: suite_.Suite  # every SAE's activations on the statistics windows
    windows: torch.Tensor  # (stat_windows, sae_context) held-out token ids the statistics read
    saes: pd.DataFrame  # one row per SAE: chapter 4's, the extra seeds, the untrained model's
    latents: pd.DataFrame  # one row per (comparison, latent), every replicate
    first: pd.DataFrame  # ``latents`` for the first replicate of each model only
    summary: pd.DataFrame  # one row per comparison: r, its interval over latents, fits, matching shares
    by_kind: pd.DataFrame  # r per (site, kind) with an interval over SAE seeds and latents
    by_pair: pd.DataFrame  # the same per (site, kind, pair of models)
    r_grid: pd.DataFrame  # the 4×4 table: scored width (rows) against compared width (columns)
    controls: pd.DataFrame  # one row per kind of comparison: mean universality, matching shares, r
    floors: dict[str, float]  # mean universality of the untrained-pair, token-identity, random-model and shuffled floors
    intervals: pd.DataFrame  # per (kind, statistic): value and interval over SAE seeds and latents
    verdicts: dict[str, verdicts.Verdict]  # IMPORTANCE, SHARED, WIDTH_LIKE_SEED
    top_fraction_losses: pd.DataFrame  # CE with the top / random / least-important x% of latents kept, per model
    top_fraction_slopes: pd.DataFrame  # α of those losses against N, per (rule, kept share), with R²
    top_fraction_verdict: verdicts.Verdict  # the top-x% rule
    width_counts: pd.DataFrame  # live, matched and one-to-one latents per width
    clean_law: PowerLawFit  # chapter 4's clean loss against N at the site (for effective N)
    split: pd.DataFrame  # shared-latent split against a random subset of the same size, per width pair and τ
    split_verdict: verdicts.Verdict  # the shared latents against frequency-matched random subsets and the LM-seed gap
    seed_gap: float | None  # |loss difference| of chapter 3's two seeds of one width (nats)
    window_check: pd.DataFrame  # the headline pair's r on held-out windows and on the original's training windows
    examples: pd.DataFrame  # top-activating contexts of the most and least universal latents


def collect(cfg: UniversalityConfig) -> tuple[pd.DataFrame, suite_.Suite, torch.Tensor, torch.Tensor]:
    """Every SAE the chapter compares (chapter 4's, the extra seeds at the site, one of the untrained
    model of every family width and language-model seed, initialised as training starts), each read over the same held-out
    windows: (SAE table, suite, windows [n, sae_context], chapter 4's evaluation windows)."""
    sae_cfg = cfg.saes()
    lm_cfg = sae_cfg.language_models()
    site = cfg.analysis_site
    _, data = model_suite.prepare_data(lm_cfg)
    capacity = len(data.val) // sae_cfg.sae_context
    if cfg.stat_windows > capacity:  # checked before any activation is written
        raise ParameterError("stat_windows", cfg.stat_windows, f"at most {capacity} windows of {sae_cfg.sae_context} tokens in the validation split")
    trained = model_suite.train_all(lm_cfg, data)
    chapter_4 = sae_suite.train_saes(sae_cfg, trained, data).assign(replicate=0)
    replicated = {name: trained[name] for name in sae_suite.replicated_models(sae_cfg)}
    replicates = sae_suite.train_replicates(sae_cfg, replicated, data, site, cfg.sae_seeds)
    untrained = model_suite.untrained_models(lm_cfg, data)
    random_saes = sae_suite.train_replicates(
        sae_cfg,
        untrained,
        data,
        site,
        1,
        roles=dict.fromkeys(untrained, "random init"),
        model_seeds={n: int(m.summary["seed"]) for n, m in untrained.items()},
    )
    saes = pd.concat([chapter_4, replicates[replicates.replicate > 0], random_saes], ignore_index=True)
    windows = sae_suite.held_out_windows(data, cfg.stat_windows, sae_cfg.sae_context)
    eval_windows = sae_suite.eval_tokens(data, sae_cfg)
    suite = suite_.collect_all(cfg, saes, {**trained, **untrained}, data, windows)
    return saes, suite, windows, eval_windows


def compute(cfg: UniversalityConfig, run: ChapterRun) -> Universality:
    """Every number of chapter 5: reads every SAE over the same held-out tokens (cached), correlates
    and fits (seconds to minutes), splices latents into the models."""
    site = cfg.analysis_site
    saes, suite, windows, eval_windows = collect(cfg)

    correlations = suite_.correlate(suite)
    latents = suite_.latent_table(suite, correlations)
    draws = suite_.r_draws(latents, cfg)
    summary = suite_.pair_summary(latents, cfg, draws)
    by_kind = suite_.interval_by_kind(summary, draws, cfg)
    by_pair = suite_.interval_by_kind(summary, draws, cfg, by_pair=True)
    first = suite_.first_replicates(latents)
    run.save_table("latents", first)  # first replicates only: every seed pair's numbers are in pair_summary
    run.save_table("pair_summary", summary)
    run.save_table("r_intervals", pd.concat([by_kind.assign(level="kind"), by_pair.assign(level="model pair")], ignore_index=True))
    run.save_table(
        "saes", saes.assign(activations=[str(suite.activations[(m, s, int(k))].folder) for m, s, k in zip(saes.model, saes.site, saes.sae_seed)])
    )
    r_grid = suite_.r_grid(by_pair, site)
    run.save_table("r_grid", r_grid.reset_index())

    controls = suite_.controls_table(summary, by_kind, site, cfg.match_threshold)
    run.save_table("controls", controls)
    intervals = suite_.kind_intervals(summary, suite_.statistic_draws(latents, cfg, draws), cfg)
    run.save_table("kind_intervals", intervals)
    floors = {kind: float(controls.set_index("kind").mean_universality[kind]) for kind in suite_.FLOORS}
    judged = judge(intervals)
    cross_means = cross_width_rows(summary, site).mean_universality
    run.save_json(
        "verdicts",
        {name: {"verdict": v.verdict, "rule": v.rule, "control": v.control, "reason": v.reason} for name, v in judged.items()}
        | {
            "floors": floors,
            "cross_mean": float(cross_means.mean()),
            "cross_min": float(cross_means.min()),
            "cross_max": float(cross_means.max()),
            "covers": covers(intervals),
        },
    )

    losses = suite_.fraction_losses(suite, latents, eval_windows)
    slopes = suite_.fraction_slopes(losses)
    fraction = suite_.fraction_verdict(slopes)
    counts = suite_.width_counts(latents[latents.site == site], cfg.match_threshold)
    run.save_table("top_fraction_losses", losses)
    run.save_table("top_fraction_slopes", slopes)
    run.save_table("width_counts", counts)
    run.save_json(
        "top_fraction_verdict",
        {
            "verdict": fraction.verdict,
            "rule": fraction.rule,
            "control": fraction.control,
            "reason": fraction.reason,
            "min_r_squared": suite_.MIN_POWER_LAW_R2,
        },
    )

    clean_law = chapter_4_clean_law(cfg, site)
    spliced = {m: float(g[(g.keep_fraction == 1.0) & (g.rule == "most important")].ce_spliced.iloc[0]) for m, g in losses.groupby("model")}
    split = suite_.shared_feature_split(suite, latents, eval_windows, spliced, clean_law)
    run.save_table("shared_feature_split", split)
    lm_models = results.table(cfg.preset, "03_language_models", "models", cfg.runs_dir)
    split_judged = split_verdict(split, lm_models, cfg.match_threshold)

    widths = sorted(cross_width_rows(summary, site).d_model.unique(), reverse=True)
    headline = [model_name(cfg.saes().language_models().n_layers, w) for w in widths[:2]]
    first_seed = lambda m: int(suite.row(m, site).sae_seed)  # noqa: E731
    held_out = correlations[suite_.Comparison(suite_.CROSS_WIDTH, site, headline[0], first_seed(headline[0]), headline[1], first_seed(headline[1]))]
    window_check = windows_check(cfg, suite, headline, held_out)
    run.save_table("window_check", window_check)
    examples = example_table(cfg, suite, first, headline, windows.numel())
    run.save_table("examples", examples)
    run.save_json("latent_browser", latent_browser.browser_record(suite, latents, examples))
    return Universality(
        suite,
        windows,
        saes,
        latents,
        first,
        summary,
        by_kind,
        by_pair,
        r_grid,
        controls,
        floors,
        intervals,
        judged,
        losses,
        slopes,
        fraction,
        counts,
        clean_law,
        split,
        split_judged,
        seed_gap(lm_models),
        window_check,
        examples,
    )


def cross_width_rows(summary: pd.DataFrame, site: str) -> pd.DataFrame:
    """The rows of ``summary`` that compare SAEs of two widths at ``site``."""
    return summary[(summary.site == site) & (summary.kind == suite_.CROSS_WIDTH)]


def interval(intervals: pd.DataFrame, kind: str, statistic: str) -> verdicts.Interval | None:
    """One (kind, statistic) row of :func:`helpers.chapters.universality_suite.kind_intervals`, or None
    when the kind was not measured."""
    rows = intervals[(intervals.kind == kind) & (intervals.statistic == statistic)]
    if rows.empty:
        return None
    row = rows.iloc[0]
    return verdicts.Interval(float(row.value), float(row.low), float(row.high), covers(intervals))


def covers(intervals: pd.DataFrame) -> str:
    """What the per-kind intervals cover (a bundle made before language-model seeds has one per width)."""
    cross = intervals[intervals.kind == suite_.CROSS_WIDTH]
    return suite_.interval_covers(int(cross.lm_seeds.max()) if "lm_seeds" in cross and len(cross) else 1)


#: Chapter 5's verdicts, by the name its results file and chapter 10 use.
IMPORTANCE, SHARED, WIDTH_LIKE_SEED = "importance", "shared", "width_like_seed"


def judge(intervals: pd.DataFrame) -> dict[str, verdicts.Verdict]:
    """Chapter 5's three verdicts from its per-kind intervals: importance → universality against the
    untrained pair and the partial r; one-to-one sharing against the untrained pair (floor) and the
    seed control (ceiling); cross-width against the seed control."""
    cross = lambda statistic: interval(intervals, suite_.CROSS_WIDTH, statistic)  # noqa: E731
    return {
        IMPORTANCE: verdicts.importance_predicts_universality(cross("r"), interval(intervals, suite_.UNTRAINED_PAIR, "r"), cross("partial_r")),
        SHARED: verdicts.shared_beyond_floor(
            cross("mean_one_to_one"),
            interval(intervals, suite_.UNTRAINED_PAIR, "mean_one_to_one"),
            interval(intervals, suite_.SEED_CONTROL, "mean_one_to_one"),
        ),
        WIDTH_LIKE_SEED: verdicts.width_like_seed(cross("mean_one_to_one"), interval(intervals, suite_.SEED_CONTROL, "mean_one_to_one")),
    }


def windows_check(cfg: UniversalityConfig, suite: suite_.Suite, headline: list[str], held_out: MaxCorrelation) -> pd.DataFrame:
    """The headline pair's r (both directions, first SAEs) on this chapter's held-out windows
    (``held_out``, already correlated) and on the original's windows (random windows of the training
    split, seed 34), each with dead latents left out and with the original's pseudo-count at every
    pair: one row per (direction, windows)."""
    site = cfg.analysis_site
    rows = suite.saes[suite.saes.model.isin(headline) & (suite.saes.site == site) & (suite.saes.replicate == 0)]
    windows = sae_suite.training_windows(suite.data, cfg.stat_windows, suite.windows.shape[1])
    original = suite_.collect_all(cfg, rows, suite.trained, suite.data, windows)
    wide, second = headline
    key = lambda s, m: (m, site, int(s.row(m, site).sae_seed))  # noqa: E731
    out = []
    on_training = max_correlations(
        original.activations[key(original, wide)], original.activations[key(original, second)], device=suite.device, keep_matrix=True
    )
    for name, result in (("held-out (this book)", held_out), ("training split, seed 34 (the original's)", on_training)):
        for scored, against, stats, universality, flipped in (
            (wide, second, result.stats_a, result.a_to_b, result),
            (second, wide, result.stats_b, result.b_to_a, result.reversed()),
        ):
            live = np.isfinite(universality)
            out.append(
                {
                    "scored": scored,
                    "against": against,
                    "windows": name,
                    "r": float(np.corrcoef(stats.importance[live], universality[live])[0, 1]),
                    "r_original_arithmetic": float(np.corrcoef(stats.importance, with_original_arithmetic(flipped))[0, 1]),
                }
            )
    return pd.DataFrame(out)


def chapter_4_clean_law(cfg: UniversalityConfig, site: str) -> PowerLawFit:
    """Chapter 4's clean loss of the width family at ``site`` against N (read from its results)."""
    sae_metrics = results.table(cfg.preset, "04_saes", "sae_metrics", cfg.runs_dir).rename(columns={N_COLUMN: "N"})
    family_rows = sae_metrics[sae_metrics.role.str.contains("family") & (sae_metrics.site == site)]
    return scaling.fit_power_law(family_rows.N, family_rows.ce_clean)


def example_table(cfg: UniversalityConfig, suite: suite_.Suite, first: pd.DataFrame, models: list[str], stat_tokens: int) -> pd.DataFrame:
    """Top-activating contexts of the ``n_examples`` most and least universal latents of ``models[0]``
    (scored against ``models[1]``) and of their best partners; latents firing on fewer than
    ``example_contexts`` of the ``stat_tokens`` statistics tokens are skipped."""
    site = cfg.analysis_site
    widest, second = models
    cross = first[(first.site == site) & (first.kind == suite_.CROSS_WIDTH)]
    scored = cross[(cross.scored == widest) & (cross.against == second)]
    eligible = scored[(~scored.dead) & (scored.frequency * stat_tokens >= cfg.example_contexts)].sort_values("universality")
    chosen = pd.concat(
        [eligible.tail(cfg.n_examples).iloc[::-1].assign(kind="most universal"), eligible.head(cfg.n_examples).assign(kind="least universal")]
    )
    rows = []
    for latent in chosen.itertuples():
        for model, index in ((widest, latent.latent), (second, latent.match)):
            for example in suite_.example_contexts(suite, site, model, int(index), cfg.example_contexts, cfg.example_tokens):
                rows.append(
                    {
                        "kind": latent.kind,
                        "latent": f"{widest} #{latent.latent}",
                        "universality": latent.universality,
                        "model": model,
                        "its latent": int(index),
                        "context": (example["before"] + "[" + example["token"] + "]").replace("\n", "⏎"),
                        "activation": example["activation"],
                    }
                )
    return pd.DataFrame(rows)


def seed_gap(models: pd.DataFrame) -> float | None:
    """The mean |loss difference| (nats) between a width's first language-model seed and its other
    seeds over every seed control of chapter 3's model table; None when the table has none."""
    gaps = model_suite.seed_gaps(models)
    return float(gaps.gap.mean()) if len(gaps) else None


def split_verdict(split: pd.DataFrame, models: pd.DataFrame, tau: float) -> verdicts.Verdict:
    """:func:`helpers.chapters.verdicts.shared_beats_random` on the shared-latent split at ``tau``:
    per width pair L(random) − L(shared), its interval the random draws' 95% spread (zero width in a
    bundle made with one draw), against chapter 3's seed gap."""
    at = split[split.tau == tau]
    low, high = (at.get(f"loss_wide_random_{end}", at.loss_wide_random) for end in ("low", "high"))
    wins = [
        verdicts.Interval(r - m, lo - m, hi - m, "the random draws") for r, lo, hi, m in zip(at.loss_wide_random, low, high, at.loss_wide_matched)
    ]
    return verdicts.shared_beats_random(wins, seed_gap(models))


def l0_by_width(cfg: UniversalityConfig) -> list[tuple[int, float]]:
    """Chapter 4's L0 of each family width's SAE at the analysed site: (d_model, L0), narrowest first."""
    metrics = results.table(cfg.preset, "04_saes", "sae_metrics", cfg.runs_dir)
    family = metrics[metrics.role.str.contains("family") & (metrics.site == cfg.analysis_site)].sort_values("d_model")
    return [(int(d), float(l0)) for d, l0 in zip(family.d_model, family.l0)]


def examples_by_latent(examples: pd.DataFrame) -> pd.DataFrame:
    """:func:`example_table`'s rows (one per context) folded to one row per example latent: its
    contexts and those of its best match in the next width, each with its activation."""
    rows = []
    for (kind, latent, universality), group in examples.groupby(["kind", "latent", "universality"], sort=False):
        own_model = latent.split(" #")[0]
        own, match = group[group.model == own_model], group[group.model != own_model]

        def contexts(part: pd.DataFrame) -> str:
            return " · ".join(f"{c} ({a:.3f})" for c, a in zip(part.context, part.activation))

        rows.append(
            {
                "kind": kind,
                "latent": latent,
                "universality": universality,
                "its top contexts (activation)": contexts(own),
                "best match": f"{match.model.iloc[0]} #{match['its latent'].iloc[0]}" if len(match) else "–",
                "the match's top contexts": contexts(match),
            }
        )
    return pd.DataFrame(rows)
