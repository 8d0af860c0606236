"""Chapter 9's sweeps and rules: TopK SAEs of several dictionary sizes at chapter 5's site of every
model of chapter 3's family (each language-model seed), the latents n* each width needs to reach a
target error, and the spliced loss each width gets from the same number of latents.

The talk's "larger models store more features" is read in two steps: n* rises with width beyond
the spread (wider models need more latents), and the rise in error with width at equal n exceeds the
rise that the untrained models of the same widths show (more than their width alone demands: a wider
residual stream has more to reconstruct even when nothing was learned). "They get more out of the
features they share" holds when the spliced loss at equal n falls with width beyond the spread. The
spread is every language-model seed the rung has and the SAE-seed band: the largest spread of log
error among the SAE seeds at the largest size, applied to every size.
"""

from __future__ import annotations

import dataclasses
import itertools
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from helpers.chapters import model_suite, sae_suite
from helpers.chapters.configs import CountingConfig, LanguageModelsConfig, SAEsConfig, UniversalityConfig
from helpers.core import hardware, paths
from helpers.lm.family import to_hooked
from helpers.lm.tokens import TokenData
from helpers.lm.training import TrainedModel
from helpers.sae.counting import compare_ranges, error_law, needed_range
from helpers.sae.evaluation import sweep_metrics
from helpers.sae.training import load_sae, map_hook, train_sae

#: The errors n* is read at: the normalised MSE and the spliced loss's rise over the clean model's.
ERRORS = {"normalised_mse": "nmse_target", "delta_ce": "delta_ce_target"}
#: The errors' names in prose.
ERROR_LABELS = {"normalised_mse": "normalised MSE", "delta_ce": "spliced-loss rise (nats)"}
#: A rise of the spliced loss at or below this (nats) counts as met: log errors need a floor.
DELTA_CE_FLOOR = 1e-6


def subjects(cfg: CountingConfig) -> list[model_suite.PlannedModel]:
    """Chapter 3's family and its seed controls (every width, every language-model seed), in plan order."""
    return [p for p in model_suite.plan(cfg.chapter_config(LanguageModelsConfig)) if p.role in ("family", "seed control")]


def untrained_subjects(cfg: CountingConfig) -> list[model_suite.PlannedModel]:
    """The untrained model of every family width, from chapter 3's first seed."""
    lm_cfg = cfg.chapter_config(LanguageModelsConfig)
    return [
        model_suite.PlannedModel(model_suite.untrained_name(lm_cfg, p.shape.d_model, p.seed), "untrained", p.shape, p.seed)
        for p in subjects(cfg)
        if p.role == "family"
    ]


def sweep_settings(cfg: CountingConfig, first_lm_seed: bool) -> list[tuple[int, int, int]]:
    """Every swept SAE of one model as (k, n, SAE replicate): each size at replicate 0 for the first k
    (and for the second k on a width's first language-model seed only), and the further replicates at
    the largest size for the first k."""
    sizes = sorted(cfg.dictionary_sizes)
    plan = [(k, n, 0) for k in (cfg.ks if first_lm_seed else [cfg.k]) for n in sizes]
    return plan + [(cfg.k, sizes[-1], r) for r in range(1, cfg.sae_seeds)]


def untrained_settings(cfg: CountingConfig) -> list[tuple[int, int, int]]:
    """An untrained model's one SAE: the first k at the largest size, the first seed (all the control reads)."""
    return [(cfg.k, max(cfg.dictionary_sizes), 0)]


def train_sweep(cfg: CountingConfig, trained: dict[str, TrainedModel], data: TokenData) -> pd.DataFrame:
    """Train (or find) every swept SAE, of the trained models and of the untrained control, and
    evaluate it on chapter 4's windows; one row per SAE (``trained`` says which)."""
    s_cfg, u_cfg = cfg.chapter_config(SAEsConfig), cfg.chapter_config(UniversalityConfig)
    lm_cfg = s_cfg.language_models()
    device = hardware.resolve_device(cfg.device)
    saes_dir = paths.run_dir(cfg.preset, cfg.runs_dir or None) / "saes"
    windows = sae_suite.eval_tokens(data, s_cfg).to(device)
    base = dataclasses.replace(sae_suite.settings_for(s_cfg), architecture=cfg.architecture, lr=cfg.sae_lr, training_tokens=cfg.sae_training_tokens)
    jobs = [(p, sweep_settings(cfg, p.role == "family")) for p in subjects(cfg)] + [(p, untrained_settings(cfg)) for p in untrained_subjects(cfg)]
    rows = []
    bar = tqdm(total=sum(len(settings) for _, settings in jobs), desc="SAE size sweeps")
    for p, settings in jobs:
        model = trained[p.name]
        hooked = to_hooked(model.model, data.tokenizer, device)
        hook = map_hook(u_cfg.analysis_site, lm_cfg.n_layers, p.shape.n_layers)
        for k, n, replicate in settings:
            sae_settings = dataclasses.replace(base, d_sae=n, k=k, seed=sae_suite.sae_seed(s_cfg, p.seed, replicate))
            folder = Path(train_sae(p.name, model.summary["key"], hooked, hook, data.train, data.key, sae_settings, saes_dir, device))
            metrics = sweep_metrics(hooked, hook, load_sae(folder, device), windows)
            rows.append(
                {
                    "model": p.name,
                    "trained": p.role != "untrained",
                    "d_model": p.shape.d_model,
                    "lm_seed": p.seed,
                    "k": k,
                    "d_sae": n,
                    "sae_seed": sae_settings.seed,
                    "replicate": replicate,
                    **metrics,
                    "delta_ce": metrics["ce_spliced"] - metrics["ce_clean"],
                    "dead_share": metrics["dead_latents"] / n,
                    "folder": str(folder.relative_to(saes_dir.parent)),
                }
            )
            bar.update()
    bar.close()
    return pd.DataFrame(rows)


def seed_band(sweep: pd.DataFrame, error: str) -> float:
    """The SAE-seed band of ``error``: over every model (and k) with several SAE seeds at one size,
    the largest |log e − mean log e| of a seed; 0 when no size has two seeds."""
    logs = np.log(sweep[error].clip(lower=DELTA_CE_FLOOR))
    spread = logs.groupby([sweep.model, sweep.k, sweep.d_sae]).transform(lambda v: (v - v.mean()).abs() if len(v) > 1 else np.nan)
    return float(spread.max()) if spread.notna().any() else 0.0


def curves(sweep: pd.DataFrame, error: str) -> dict[tuple[int, int], tuple[np.ndarray, np.ndarray]]:
    """(d_model, k) → the sizes (sizes,) and one error curve per language-model seed (seeds, sizes),
    each size's SAE seeds averaged."""
    out = {}
    for (width, k), group in sweep.groupby(["d_model", "k"]):
        table = group.groupby(["lm_seed", "d_sae"])[error].mean().unstack("d_sae")
        out[(int(width), int(k))] = (table.columns.to_numpy(dtype=float), table.to_numpy(dtype=float).clip(min=DELTA_CE_FLOOR))
    return out


def needed_table(cfg: CountingConfig, sweep: pd.DataFrame) -> pd.DataFrame:
    """n* for every (error, k, width): the central value and status from the mean curve, the range
    over language-model seeds and the SAE-seed band, and how many LM seeds the range covers."""
    rows = []
    for error, target_name in ERRORS.items():
        target, band = getattr(cfg, target_name), seed_band(sweep, error)
        for (width, k), (sizes, errors) in curves(sweep, error).items():
            found = needed_range(sizes, errors, target, band)
            rows.append(
                {
                    "error": error,
                    "target": target,
                    "k": k,
                    "d_model": width,
                    "n_star": found.central.value,
                    "status": found.central.status,
                    "label": found.central.label,
                    "low": found.low,
                    "high": found.high,
                    "lm_seeds": len(errors),
                    "band": band,
                }
            )
    return pd.DataFrame(rows)


def at_equal_n(sweep: pd.DataFrame) -> pd.DataFrame:
    """The spliced loss of every (k, size, width): its mean and range over every SAE there (each
    language-model seed, and each SAE seed where the size has several), and the clean loss."""
    rows = []
    for (k, n, width), group in sweep.groupby(["k", "d_sae", "d_model"]):
        rows.append(
            {
                "k": int(k),
                "d_sae": int(n),
                "d_model": int(width),
                "ce_spliced": float(group.ce_spliced.mean()),
                "low": float(group.ce_spliced.min()),
                "high": float(group.ce_spliced.max()),
                "ce_clean": float(group.ce_clean.mean()),
                "delta_ce": float(group.delta_ce.mean()),
                "kl": float(group.kl.mean()),
                "saes": len(group),
            }
        )
    return pd.DataFrame(rows)


def widths_judged(sweep: pd.DataFrame) -> list[tuple[int, int]]:
    """Width pairs the rules judge: each adjacent pair, then the narrowest against the widest."""
    widths = sorted(sweep.d_model.unique())
    pairs = list(itertools.pairwise(widths))
    return pairs + ([(widths[0], widths[-1])] if len(widths) > 2 else [])


def spread_note(sweep: pd.DataFrame) -> str:
    """What the intervals cover, in words."""
    seeds = sweep.groupby("d_model").lm_seed.nunique()
    lm = "one language-model seed per width" if seeds.max() == 1 else f"{seeds.min()}–{seeds.max()} language-model seeds per width"
    return f"{lm} and {sweep.replicate.max() + 1} SAE seeds at the largest size"


def stores_more(cfg: CountingConfig, needed: pd.DataFrame, sweep: pd.DataFrame) -> pd.DataFrame:
    """The first claim per (error, width pair) at the first k: n*'s ranges compared ("rises": the wide
    width needs more latents beyond the spread). A pair whose ranges are both unbounded on the same
    side (both beyond the sweep, or both met at the smallest size) cannot be told apart, nor can a
    pair with no spread at all (one seed of everything)."""
    rows = []
    for error in ERRORS:
        table = needed[(needed.error == error) & (needed.k == cfg.k)].set_index("d_model")
        for narrow, wide in widths_judged(sweep):
            a, b = table.loc[narrow], table.loc[wide]
            spread = a.band > 0 or min(a.lm_seeds, b.lm_seeds) > 1
            outcome = compare_ranges((a.low, a.high), (b.low, b.high)) if spread else "no spread"
            rows.append(
                {
                    "error": error,
                    "narrow": narrow,
                    "wide": wide,
                    "n_star_narrow": a.label,
                    "n_star_wide": b.label,
                    "outcome": outcome,
                    "verdict": {"rises": "holds", "falls": "reversed"}.get(outcome, "inconclusive"),
                }
            )
    return pd.DataFrame(rows)


def gets_more(cfg: CountingConfig, equal: pd.DataFrame, sweep: pd.DataFrame) -> pd.DataFrame:
    """The second claim per width pair at the largest size and the first k: the spliced loss's ranges
    compared ("holds" when the wide width's lies wholly below), with the split of the clean-loss gap
    Δ = L_a − L_b into the part realised at equal n, L_a(n) − L_b(n), and the rest,
    ΔCE_b(n) − ΔCE_a(n), which only more latents close in the wide model. With one SAE per width
    there is no spread, and no verdict."""
    largest = max(cfg.dictionary_sizes)
    table = equal[(equal.k == cfg.k) & (equal.d_sae == largest)].set_index("d_model")
    rows = []
    for narrow, wide in widths_judged(sweep):
        a, b = table.loc[narrow], table.loc[wide]
        outcome = compare_ranges((a.low, a.high), (b.low, b.high)) if min(a.saes, b.saes) > 1 else "no spread"
        clean_gap, spliced_gap = a.ce_clean - b.ce_clean, a.ce_spliced - b.ce_spliced
        rows.append(
            {
                "narrow": narrow,
                "wide": wide,
                "d_sae": largest,
                "spliced_narrow": a.ce_spliced,
                "spliced_wide": b.ce_spliced,
                "clean_gap": clean_gap,
                "gap_at_equal_n": spliced_gap,
                "gap_needing_more_latents": clean_gap - spliced_gap,
                "share_at_equal_n": spliced_gap / clean_gap if clean_gap != 0 else float("nan"),
                "verdict": {"falls": "holds", "rises": "reversed"}.get(outcome, "inconclusive"),
            }
        )
    return pd.DataFrame(rows)


def width_penalty(cfg: CountingConfig, sweep: pd.DataFrame, untrained: pd.DataFrame) -> pd.DataFrame:
    """The untrained control of the first claim, per width pair at the largest size and the first k:
    the width penalty log(e_wide/e_narrow) of the normalised MSE in the trained models (its range over
    every language-model and SAE seed) against the untrained models' (one SAE each, ± the SAE-seed
    band for each). "holds" when the trained penalty lies wholly above the untrained one: the wider
    models need more latents than their width alone demands; "reversed" when wholly below."""
    largest, band = max(cfg.dictionary_sizes), seed_band(sweep, "normalised_mse")
    logs = np.log(sweep[(sweep.k == cfg.k) & (sweep.d_sae == largest)].groupby("d_model").normalised_mse.agg(["min", "max"]))
    control = np.log(untrained[(untrained.k == cfg.k) & (untrained.d_sae == largest)].groupby("d_model").normalised_mse.mean())
    rows = []
    for narrow, wide in widths_judged(sweep):
        low, high = logs.loc[wide, "min"] - logs.loc[narrow, "max"], logs.loc[wide, "max"] - logs.loc[narrow, "min"]
        centre = control.loc[wide] - control.loc[narrow]
        outcome = compare_ranges((centre - 2 * band, centre + 2 * band), (low, high))
        rows.append(
            {
                "narrow": narrow,
                "wide": wide,
                "d_sae": largest,
                "trained_low": low,
                "trained_high": high,
                "untrained": centre,
                "untrained_low": centre - 2 * band,
                "untrained_high": centre + 2 * band,
                "verdict": {"rises": "holds", "falls": "reversed"}.get(outcome, "inconclusive"),
            }
        )
    return pd.DataFrame(rows)


def penalty_reason(penalty: pd.DataFrame) -> str:
    """The control's evidence in words, for the narrowest and the widest width."""
    pair = penalty.iloc[-1]
    return (
        f"width {int(pair.narrow)} → {int(pair.wide)}, n = {int(pair.d_sae):,}: the normalised MSE grows by a factor "
        f"{np.exp(pair.trained_low):.2f}–{np.exp(pair.trained_high):.2f} in the trained models and "
        f"{np.exp(pair.untrained_low):.2f}–{np.exp(pair.untrained_high):.2f} in the untrained ones"
    )


def error_laws(sweep: pd.DataFrame) -> pd.DataFrame:
    """error ≈ C·n^(−β) per (error, k, width) over every SAE of the sweep, with β's interval and R²."""
    rows = []
    for error in ERRORS:
        for (k, width), group in sweep.groupby(["k", "d_model"]):
            law = error_law(group.d_sae, group[error].clip(lower=DELTA_CE_FLOOR))
            rows.append({"error": error, "k": int(k), "d_model": int(width), **dataclasses.asdict(law)})
    return pd.DataFrame(rows)


def overall(pairs: pd.DataFrame) -> str:
    """A claim's verdict from its pairs' (narrowest against widest decides; an adjacent pair judged the
    other way makes it inconclusive)."""
    if pairs.empty:
        return "inconclusive"
    extreme = pairs.iloc[-1].verdict
    other = "reversed" if extreme == "holds" else "holds"
    return "inconclusive" if extreme == "inconclusive" or (pairs.verdict == other).any() else extreme


def _bound(value: float) -> str:
    return "∞" if np.isinf(value) else f"{value:,.0f}"


def stores_reason(cfg: CountingConfig, needed: pd.DataFrame, stores: pd.DataFrame, error: str) -> str:
    """The first claim's evidence at one error, in words: n* and its range at the narrowest and the widest width."""
    pair = stores[stores.error == error].iloc[-1]
    table = needed[(needed.error == error) & (needed.k == cfg.k)].set_index("d_model")
    parts = [f"width {w}: n* {table.loc[w].label} [{_bound(table.loc[w].low)}, {_bound(table.loc[w].high)}]" for w in (pair.narrow, pair.wide)]
    return f"{ERROR_LABELS[error]} target {getattr(cfg, ERRORS[error]):g}, k = {cfg.k}: " + "; ".join(parts)


def gets_reason(gets: pd.DataFrame) -> str:
    """The second claim's evidence in words: the spliced losses of the narrowest and the widest width at the largest size."""
    pair = gets.iloc[-1]
    return (
        f"n = {int(pair.d_sae):,}: spliced loss {pair.spliced_narrow:.3f} (width {int(pair.narrow)}) vs {pair.spliced_wide:.3f} "
        f"(width {int(pair.wide)}); {pair.share_at_equal_n:.0%} of the clean gap {pair.clean_gap:.3f} nats at equal n"
    )


def summary(cfg: CountingConfig, sweep: pd.DataFrame, needed: pd.DataFrame, stores: pd.DataFrame, gets: pd.DataFrame, penalty: pd.DataFrame) -> dict:
    """Both claims' verdicts per error with their evidence in words, the untrained control's, what
    their spread covers, and the split at the largest size."""
    extreme = gets.iloc[-1]
    return {
        "k": cfg.k,
        "sizes": sorted(cfg.dictionary_sizes),
        "targets": {error: getattr(cfg, name) for error, name in ERRORS.items()},
        "spread": spread_note(sweep),
        "stores_more": {error: overall(stores[stores.error == error]) for error in ERRORS},
        "stores_more_reason": {error: stores_reason(cfg, needed, stores, error) for error in ERRORS},
        "beyond_untrained": overall(penalty),
        "beyond_untrained_reason": penalty_reason(penalty),
        "gets_more": overall(gets),
        "gets_more_reason": gets_reason(gets),
        "split": {
            "narrow": int(extreme.narrow),
            "wide": int(extreme.wide),
            "d_sae": int(extreme.d_sae),
            "clean_gap": float(extreme.clean_gap),
            "gap_at_equal_n": float(extreme.gap_at_equal_n),
            "share_at_equal_n": float(extreme.share_at_equal_n),
        },
        "dead_share_max": float(sweep.dead_share.max()),
    }


def run(cfg: CountingConfig) -> tuple[pd.DataFrame, dict[str, TrainedModel]]:
    """Chapter 3's models (cached), their untrained twins, and their sweeps (trained or found); the
    sweep table and the models."""
    lm_cfg = cfg.chapter_config(LanguageModelsConfig)
    _, data = model_suite.prepare_data(lm_cfg)
    models = {**model_suite.train_all(lm_cfg, data), **model_suite.untrained_models(lm_cfg, data)}
    return train_sweep(cfg, models, data), models
