"""Chapter 7's check of the theory note: shapes of equal N at several aspect ratios, each trained
from several seeds with chapter 3's recipe, read at the same relative depth.

Stages, each cached: language models (a shape and seed chapter 3 already trained is found in its
cache) → SAEs of every dictionary size at each model's site (chapter 4's recipe otherwise; the SAE
seed of chapter 4 for the model's seed) → each SAE evaluated on chapter 4's windows → the largest
SAEs read over chapter 5's held-out windows → every pair of models matched one-to-one. Then the
same at matched loss (each model's kept snapshot nearest the worst shape's loss, with a largest-size
SAE of its own), and a sweep of the sparsity coefficient at each shape's largest dictionary, so that
sites are compared at one explained variance rather than at one coefficient.

What is compared, and against what:

- **loss**: each shape's validation loss (mean over seeds) against the best shape's, beside the
  spread between seeds of one shape;
- **capacity per site**: per SAE, explained variance, L0 and live latents, and the compressed-
  sensing load L0 · ln(live / L0) / d_model (the bound m ≳ k log(n/k), constants unknown);
- **the note's prediction**: latents matched one-to-one across two shapes fire at the rate the
  bound asks of the narrower site (:func:`predicted_log_ratio`) or at the same rate, judged against
  the same comparison between two seeds of one shape (:data:`RULE`), at equal tokens and at matched
  loss;
- **load at one explained variance**: L0 and live latents interpolated (in log L0) to the explained
  variance the chapter-4 coefficient gives at the median shape, so that the load compared is the
  site's, not the coefficient's.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from helpers.chapters import model_suite, sae_suite, verdicts
from helpers.chapters.configs import EqualNConfig
from helpers.chapters.dynamics import model_at
from helpers.chapters.model_suite import PlannedModel
from helpers.chapters.universality_suite import loss_gap, windows_key
from helpers.core import hardware, paths
from helpers.lm.family import ModelShape, half_block_site, model_name, to_hooked
from helpers.lm.tokens import TokenData
from helpers.lm.training import TrainedModel, snapshot_path, train_model
from helpers.sae.evaluation import evaluate_sae
from helpers.sae.training import load_sae, train_sae
from helpers.theory.superposition import SPARSE_BRANCH_START, partner_sparsity
from helpers.universality.activations import SparseActivations, collect_activations
from helpers.universality.correlation import max_correlations
from helpers.universality.matching import one_to_one

SAME_SHAPE, ACROSS_SHAPES = "same shape, two seeds", "two shapes"
RULE = (
    "matched latents of two shapes fire at the bound's rate when the median log ratio of their firing frequencies "
    "(narrower site over wider) lies beyond every same-shape seed pair's, on the bound's side, and at least half "
    "way to the bound's prediction; at the same rate when it lies within the largest same-shape value; otherwise "
    "short of the bound (its side, less than half way) or opposite to the bound (the other side)"
)


def plan(cfg: EqualNConfig) -> list[PlannedModel]:
    """Every (shape, seed), named as chapter 3 names its models (a seed other than chapter 3's gets a suffix)."""
    lm = cfg.universality().saes().language_models()
    return [
        PlannedModel(
            model_name(layers, width, "" if seed == lm.seed else f"seed{seed}"), "equal N", ModelShape(layers, width, lm.head_dim, lm.min_heads), seed
        )
        for layers, width in cfg.shapes
        for seed in cfg.lm_seeds
    ]


def train_models(cfg: EqualNConfig, data: TokenData) -> dict[str, TrainedModel]:
    """Train (or find) every planned model with chapter 3's settings."""
    lm = cfg.universality().saes().language_models()
    device = hardware.resolve_device(cfg.device)
    folder = paths.models_dir(cfg.preset, cfg.runs_dir or None)
    return {
        p.name: train_model(p.name, p.shape, data, model_suite.settings_for(lm, p.seed), folder, device)
        for p in tqdm(plan(cfg), desc="equal-N models")
    }


def shape_table(cfg: EqualNConfig, trained: dict[str, TrainedModel]) -> pd.DataFrame:
    """One row per model: shape, site, parameters (with and without embeddings) and validation loss."""
    lm = cfg.universality().saes().language_models()
    rows = []
    for p in plan(cfg):
        model = trained[p.name].model
        shape = model.shape
        embedding = lm.d_vocab * shape.d_model + lm.n_ctx * shape.d_model
        rows.append(
            {
                "model": p.name,
                "shape": shape.name,
                "lm_seed": p.seed,
                "n_layers": shape.n_layers,
                "d_model": shape.d_model,
                "aspect_ratio": shape.d_model / shape.n_layers,
                "site": half_block_site(shape.n_layers, cfg.relative_depth),
                "kaplan_N": 12 * shape.n_layers * shape.d_model**2,
                "non_embedding": model.non_embedding_parameters(),
                "embedding": embedding,
                "total": model.non_embedding_parameters() + embedding,
                "neurons": shape.n_layers * (shape.d_model + shape.d_mlp),
                "val_loss": float(trained[p.name].summary["final_val_loss"]),
            }
        )
    return pd.DataFrame(rows)


def loss_premise(models: pd.DataFrame, tolerance: float) -> dict:
    """Equal N, equal loss? Per shape the mean loss over seeds; the largest gap to the best shape,
    absolute and relative; the largest spread (max − min) between seeds of one shape."""
    by_shape = models.groupby("shape", sort=False).val_loss
    mean = by_shape.mean()
    spread = float(by_shape.agg(lambda v: v.max() - v.min()).max())
    gap = loss_gap(float(mean.max()), float(mean.min()))
    relative = gap / float(mean.min())
    return {
        "mean_loss": mean.to_dict(),
        "best": str(mean.idxmin()),
        "worst": str(mean.idxmax()),
        "gap_nats": gap,
        "relative_gap": relative,
        "seed_spread_nats": spread,
        "tolerance": tolerance,
        "comparable": bool(relative <= tolerance),
    }


def matched_premise(matched: pd.DataFrame, tolerance: float) -> dict:
    """Equal N, equal loss at matched loss (``matched``: :func:`matched_steps`): :func:`loss_premise`
    over the snapshots read, and also every model within ``tolerance`` of the common target, so that
    two seeds on either side of it cannot average into a match. Adds the largest relative distance
    of one model from the target and that model."""
    premise = loss_premise(matched, tolerance)
    off = (matched.val_loss - matched.target_loss).abs() / matched.target_loss
    worst = int(off.to_numpy().argmax())
    return {
        **premise,
        "largest_model_gap": float(off.iloc[worst]),
        "farthest_model": str(matched.model.iloc[worst]),
        "comparable": bool(premise["comparable"] and off.iloc[worst] <= tolerance),
    }


def train_sweep(cfg: EqualNConfig, trained: dict[str, TrainedModel], data: TokenData) -> pd.DataFrame:
    """Train (or find) an SAE of every dictionary size at every model's site and evaluate it on
    chapter 4's windows; one row per SAE."""
    device = hardware.resolve_device(cfg.device)
    saes_dir = paths.run_dir(cfg.preset, cfg.runs_dir or None) / "saes"
    eval_windows = sae_suite.eval_tokens(data, cfg.universality().saes()).to(device)
    rows = []
    bar = tqdm(total=len(trained) * len(cfg.dictionary_sizes), desc="SAEs of every size")
    for p in plan(cfg):
        model = trained[p.name]
        hooked = to_hooked(model.model, data.tokenizer, device)
        hook = half_block_site(p.shape.n_layers, cfg.relative_depth)
        for d_sae in sorted(cfg.dictionary_sizes):
            folder, metrics = sae_of(cfg, p.name, model.summary["key"], hooked, hook, p.seed, data, eval_windows, d_sae=d_sae)
            rows.append(
                {
                    "model": p.name,
                    "shape": p.shape.name,
                    "lm_seed": p.seed,
                    "d_model": p.shape.d_model,
                    "site": hook,
                    "d_sae": d_sae,
                    **metrics,
                    "live": d_sae - metrics["dead_latents"],
                    "load": capacity_load(metrics["l0"], d_sae - metrics["dead_latents"], p.shape.d_model),
                    "folder": str(folder.relative_to(saes_dir.parent)),
                }
            )
            bar.update()
    bar.close()
    return pd.DataFrame(rows)


def sae_of(cfg: EqualNConfig, name: str, key: str, hooked, site: str, seed: int, data: TokenData, eval_windows, **changes) -> tuple[Path, dict]:
    """Train (or find) chapter 4's SAE at ``site`` of the model ``name`` (cache ``key``) with its seed
    for language-model ``seed`` and ``changes`` to its settings; return its folder and its metrics on
    ``eval_windows``."""
    s_cfg = cfg.universality().saes()
    device = hardware.resolve_device(cfg.device)
    saes_dir = paths.run_dir(cfg.preset, cfg.runs_dir or None) / "saes"
    settings = dataclasses.replace(sae_suite.settings_for(s_cfg), seed=sae_suite.sae_seed(s_cfg, seed, 0), **changes)
    folder = Path(train_sae(name, key, hooked, site, data.train, data.key, settings, saes_dir, device))
    return folder, evaluate_sae(hooked, site, load_sae(folder, device), eval_windows)


def activations_of(cfg: EqualNConfig, name: str, sae_folder: Path, site: str, windows, hooked) -> SparseActivations:
    """The SAE in ``sae_folder`` read over ``windows`` (cached beside chapter 5's activations);
    ``hooked()`` gives the model, called only when the cache is missing."""
    device = hardware.resolve_device(cfg.device)
    cached = paths.run_dir(cfg.preset, cfg.runs_dir or None) / "activations" / name / f"{sae_folder.name}-w{windows_key(windows)}"
    if (cached / "meta.json").exists():
        return SparseActivations.open(cached)
    return collect_activations(hooked(), site, load_sae(sae_folder, device), windows.to(device), cached)


def capacity_load(l0: float, live: int, d_model: int) -> float:
    """The compressed-sensing load of a site, k · ln(n / k) / m with k = L0 active latents of n live
    ones in m = d_model dimensions (recovery needs m ≳ C · k ln(n/k)); NaN when k ≥ n or k = 0."""
    if not 0 < l0 < live:
        return float("nan")
    return float(l0 * np.log(live / l0) / d_model)


def read_largest(cfg: EqualNConfig, trained: dict[str, TrainedModel], sweep: pd.DataFrame, data: TokenData) -> dict[str, SparseActivations]:
    """Each model's largest SAE read over chapter 5's held-out windows (cached beside chapter 5's)."""
    u_cfg = cfg.universality()
    device = hardware.resolve_device(cfg.device)
    run_dir = paths.run_dir(cfg.preset, cfg.runs_dir or None)
    windows = sae_suite.held_out_windows(data, u_cfg.stat_windows, u_cfg.saes().sae_context)
    return {
        row.model: activations_of(
            cfg, row.model, run_dir / row.folder, row.site, windows, lambda row=row: to_hooked(trained[row.model].model, data.tokenizer, device)
        )
        for row in tqdm(list(sweep[sweep.d_sae == cfg.largest_dictionary].itertuples()), desc="activations")
    }


def matched_steps(models: pd.DataFrame, trained: dict[str, TrainedModel]) -> pd.DataFrame:
    """Per model (``models``: :func:`shape_table`), the training step whose validation loss is nearest
    a common target, the worst shape's mean final loss (every shape passes it; the worst ends there).
    Candidates are the kept snapshots and the final step; a step's loss is the validation loss the
    training history records at it. One row per model: the step, its tokens and loss, the target."""
    target = float(models.groupby("shape", sort=False).val_loss.mean().max())
    rows = []
    for row in models.itertuples():
        model = trained[row.model]
        steps = int(model.summary["settings"]["steps"])
        history = model.history.dropna(subset=["val_loss"]).set_index("step")
        candidates = [s for s in history.index if s == steps or snapshot_path(model.folder, s).exists()]
        step = min(candidates, key=lambda s: (abs(history.val_loss[s] - target), -s))
        rows.append(
            {
                "model": row.model,
                "shape": row.shape,
                "lm_seed": row.lm_seed,
                "n_layers": row.n_layers,
                "d_model": row.d_model,
                "site": row.site,
                "step": int(step),
                "of_steps": steps,
                "tokens": int(history.tokens[step]),
                "val_loss": float(history.val_loss[step]),
                "target_loss": target,
            }
        )
    return pd.DataFrame(rows)


def read_matched(
    cfg: EqualNConfig, trained: dict[str, TrainedModel], matched: pd.DataFrame, sweep: pd.DataFrame, data: TokenData
) -> tuple[pd.DataFrame, dict[str, SparseActivations]]:
    """Each matched model's largest-size SAE (the sweep's for a final step; trained on the snapshot
    otherwise, with the sweep's settings) evaluated on chapter 4's windows and read over chapter 5's
    held-out windows. ``matched`` with the SAE's metrics, and the activations by model."""
    u_cfg = cfg.universality()
    s_cfg = u_cfg.saes()
    device = hardware.resolve_device(cfg.device)
    run_dir = paths.run_dir(cfg.preset, cfg.runs_dir or None)
    windows = sae_suite.held_out_windows(data, u_cfg.stat_windows, s_cfg.sae_context)
    eval_windows = sae_suite.eval_tokens(data, s_cfg).to(device)
    largest = sweep[sweep.d_sae == cfg.largest_dictionary].set_index("model")
    rows, activations = [], {}
    for row in tqdm(list(matched.itertuples()), desc="SAEs at matched loss"):
        model = trained[row.model]

        @functools.cache
        def hooked(model=model, step=row.step):  # converted once, and only when needed
            return to_hooked(model_at(model, step), data.tokenizer, device)

        if row.step == row.of_steps:
            folder = run_dir / largest.folder[row.model]
            metrics = largest.loc[row.model, ["explained_variance", "l0", "dead_latents", "loss_recovered"]].to_dict()
        else:
            key = f"{model.summary['key']}@step{row.step}"
            folder, metrics = sae_of(cfg, row.model, key, hooked(), row.site, row.lm_seed, data, eval_windows, d_sae=cfg.largest_dictionary)
        activations[row.model] = activations_of(cfg, row.model, folder, row.site, windows, hooked)
        live = cfg.largest_dictionary - int(metrics["dead_latents"])
        rows.append(
            {
                **row._asdict(),
                "explained_variance": float(metrics["explained_variance"]),
                "loss_recovered": float(metrics["loss_recovered"]),
                "l0": float(metrics["l0"]),
                "dead_latents": int(metrics["dead_latents"]),
                "load": capacity_load(float(metrics["l0"]), live, int(row.d_model)),
            }
        )
    table = pd.DataFrame(rows).drop(columns="Index")
    return table, activations


def sparsity_sweep(cfg: EqualNConfig, trained: dict[str, TrainedModel], sweep: pd.DataFrame, data: TokenData) -> pd.DataFrame:
    """At each shape's largest dictionary (first language-model seed), an SAE per multiple of chapter
    4's sparsity coefficient (:attr:`EqualNConfig.l1_multipliers`; 1.0 is the sweep's own SAE); one
    row per SAE with its explained variance, L0, dead latents and load."""
    s_cfg = cfg.universality().saes()
    device = hardware.resolve_device(cfg.device)
    eval_windows = sae_suite.eval_tokens(data, s_cfg).to(device)
    largest = sweep[(sweep.d_sae == cfg.largest_dictionary) & (sweep.lm_seed == cfg.lm_seeds[0])]
    rows = []
    bar = tqdm(total=len(largest) * len(cfg.l1_multipliers), desc="sparsity coefficients")
    for row in largest.itertuples():
        hooked = to_hooked(trained[row.model].model, data.tokenizer, device)
        for multiplier in sorted(cfg.l1_multipliers):
            if multiplier == 1.0:
                metrics = {k: getattr(row, k) for k in ("explained_variance", "l0", "dead_latents", "loss_recovered")}
            else:
                key = trained[row.model].summary["key"]
                changes = dict(d_sae=cfg.largest_dictionary, l1_coefficient=s_cfg.l1_coefficient * multiplier)
                _, metrics = sae_of(cfg, row.model, key, hooked, row.site, row.lm_seed, data, eval_windows, **changes)
            live = cfg.largest_dictionary - int(metrics["dead_latents"])
            rows.append(
                {
                    "model": row.model,
                    "shape": row.shape,
                    "d_model": row.d_model,
                    "site": row.site,
                    "multiplier": multiplier,
                    "l1_coefficient": s_cfg.l1_coefficient * multiplier,
                    "explained_variance": float(metrics["explained_variance"]),
                    "loss_recovered": float(metrics["loss_recovered"]),
                    "l0": float(metrics["l0"]),
                    "dead_latents": int(metrics["dead_latents"]),
                    "live": live,
                    "load": capacity_load(float(metrics["l0"]), live, int(row.d_model)),
                }
            )
            bar.update()
    bar.close()
    return pd.DataFrame(rows)


def at_explained_variance(sparsity: pd.DataFrame) -> tuple[float, pd.DataFrame]:
    """Each shape's L0, live latents and load at one explained variance: the median over shapes of
    the explained variance at chapter 4's coefficient (multiplier 1). Interpolated linearly in
    explained variance (log L0, live) between the coefficients that bracket it; NaN where the
    shape's sweep does not reach it. Returns (target, one row per shape)."""
    target = float(sparsity[sparsity.multiplier == 1.0].explained_variance.median())
    rows = []
    for shape, group in sparsity.groupby("shape", sort=False):
        group = group.sort_values("explained_variance")
        ev = group.explained_variance.to_numpy()
        reached = ev.min() <= target <= ev.max()
        l0 = float(np.exp(np.interp(target, ev, np.log(group.l0.to_numpy())))) if reached else float("nan")
        live = float(np.interp(target, ev, group.live.to_numpy())) if reached else float("nan")
        d_model = int(group.d_model.iloc[0])
        rows.append(
            {
                "shape": shape,
                "d_model": d_model,
                "explained_variance": target,
                "l0": l0,
                "live": live,
                "load": capacity_load(l0, live, d_model) if reached else float("nan"),
                "reached": bool(reached),
            }
        )
    return target, pd.DataFrame(rows)


#: The two accountings of a site's load, each a prediction with a sign, stated before measuring:
#: per site, the narrower residual stream holds the same features in fewer dimensions, so they must
#: fire more rarely there (a negative log ratio, narrower over wider); per layer (the note's
#: features per neuron), the deeper, narrower model spreads its features over more layers, so the
#: wider site carries (L·d)_narrow / (L·d)_wide times the load per neuron and the narrower one may
#: fire more often (a positive log ratio).
ACCOUNTINGS = {
    "per site": "the same features in fewer dimensions: the narrower site's latents fire more rarely (negative shift)",
    "per layer": "features spread over more layers: the wider site carries more per neuron, the narrower fires more often (positive shift)",
}


def predicted_log_ratio(wide_frequency: float, width_ratio: float) -> float:
    """ln(density the bound asks of the narrower site / density in the wider one) for a feature of
    density ``wide_frequency`` held at capacity by a site ``width_ratio`` (≥ 1) times wider; NaN off the
    bound's sparse branch (density above 1/e)."""
    if not 0 < wide_frequency <= 1 - SPARSE_BRANCH_START:
        return float("nan")
    needed = 1 - float(partner_sparsity(1 - wide_frequency, width_ratio))
    return float(np.log(needed / wide_frequency))


def match_pairs(cfg: EqualNConfig, models: pd.DataFrame, activations: dict[str, SparseActivations], threshold: float) -> pd.DataFrame:
    """Every pair of models matched one-to-one (Hungarian on the correlation matrix of their largest
    SAEs); one row per pair with the share matched at ``threshold``, and for the matched latents the
    median log ratio of firing frequencies (narrower site over wider; for one shape, second over
    first) and the bound's prediction for it; the same median over every assigned pair of live
    latents with no threshold (``median_log_ratio_all``), which a threshold cannot censor."""
    device = hardware.resolve_device(cfg.device)
    info = models.set_index("model")
    rows = []
    for a, b in tqdm(list(itertools.combinations(info.index, 2)), desc="pairs matched"):
        if info.d_model[a] > info.d_model[b]:
            a, b = b, a  # a: the narrower site
        result = max_correlations(activations[a], activations[b], device=device, keep_matrix=True)
        assigned = one_to_one(result.matrix)
        matched = assigned.values >= threshold
        freq_a = result.stats_a.frequency[assigned.rows[matched]]
        freq_b = result.stats_b.frequency[assigned.cols[matched]]
        log_ratio = np.log(freq_a / freq_b)
        # every assigned pair of live latents, whatever its correlation: no censoring of large ratios
        all_a, all_b = result.stats_a.frequency[assigned.rows], result.stats_b.frequency[assigned.cols]
        both_live = (all_a > 0) & (all_b > 0)
        log_ratio_all = np.log(all_a[both_live] / all_b[both_live])
        width_ratio = info.d_model[b] / info.d_model[a]
        layer_ratio = (info.n_layers[a] * info.d_model[a]) / (info.n_layers[b] * info.d_model[b])
        wide_median = float(np.median(freq_b)) if matched.any() else float("nan")
        live = min(int((~result.stats_a.dead).sum()), int((~result.stats_b.dead).sum()))
        rows.append(
            {
                "first": a,
                "second": b,
                "first_shape": info["shape"][a],
                "second_shape": info["shape"][b],
                "kind": SAME_SHAPE if info["shape"][a] == info["shape"][b] else ACROSS_SHAPES,
                "width_ratio": float(width_ratio),
                "matched": int(matched.sum()),
                "live": live,
                "share_matched": float(matched.sum() / live) if live else float("nan"),
                "mean_partner_correlation": float(assigned.values.mean()) if len(assigned.values) else float("nan"),
                "median_log_ratio": float(np.median(log_ratio)) if matched.any() else float("nan"),
                "assigned_live": int(both_live.sum()),
                "median_log_ratio_all": float(np.median(log_ratio_all)) if both_live.any() else float("nan"),
                "wide_median_frequency": wide_median,
                "predicted_log_ratio": predicted_log_ratio(wide_median, width_ratio) if width_ratio > 1 else 0.0,
                "layer_load_ratio": float(layer_ratio),
                "predicted_per_layer": -predicted_log_ratio(wide_median, layer_ratio) if layer_ratio > 1 else 0.0,
            }
        )
    return pd.DataFrame(rows)


def shift_verdicts(pairs: pd.DataFrame) -> tuple[pd.DataFrame, float]:
    """Per pair of shapes, the median over its seed combinations of the median log ratio and of the
    prediction, and the verdict of :data:`RULE`; also the seed noise (largest |median log ratio|
    over same-shape pairs). The same for the uncensored shift (every assigned pair, no threshold:
    ``shift_all``, judged against its own same-shape noise ``seed_noise_all``)."""
    noise = float(pairs[pairs.kind == SAME_SHAPE].median_log_ratio.abs().max())
    uncensored = "median_log_ratio_all" in pairs
    noise_all = float(pairs[pairs.kind == SAME_SHAPE].median_log_ratio_all.abs().max()) if uncensored else float("nan")
    rows = []
    across = pairs[pairs.kind == ACROSS_SHAPES]
    for (narrow, wide), group in across.groupby(["first_shape", "second_shape"], sort=False):
        shift, predicted = float(group.median_log_ratio.median()), float(group.predicted_log_ratio.median())
        per_layer = float(group.predicted_per_layer.median()) if "predicted_per_layer" in group else float("nan")
        shift_all = float(group.median_log_ratio_all.median()) if uncensored else float("nan")
        rows.append(
            {
                "narrower": narrow,
                "wider": wide,
                "width_ratio": float(group.width_ratio.iloc[0]),
                "shift": shift,
                "predicted": predicted,
                "seed_noise": noise,
                "share_matched": float(group.share_matched.mean()),
                "verdict": shift_verdict(shift, predicted, noise),
                "layer_load_ratio": float(group.layer_load_ratio.iloc[0]) if "layer_load_ratio" in group else float("nan"),
                "predicted_per_layer": per_layer,
                "verdict_per_layer": shift_verdict(shift, per_layer, noise),
                "shift_all": shift_all,
                "seed_noise_all": noise_all,
                "verdict_all": shift_verdict(shift_all, predicted, noise_all),
                "verdict_all_per_layer": shift_verdict(shift_all, per_layer, noise_all),
            }
        )
    return pd.DataFrame(rows), noise


#: The verdicts of :data:`RULE`, and the one for a pair the rule cannot judge (a NaN input).
BOUND, SAME, SHORT, OPPOSITE, UNDECIDED = (
    verdicts.SHIFT_BOUND,
    verdicts.SHIFT_SAME,
    verdicts.SHIFT_SHORT,
    verdicts.SHIFT_OPPOSITE,
    verdicts.SHIFT_UNDECIDED,
)


def shift_verdict(shift: float, predicted: float, noise: float) -> str:
    """One of :data:`BOUND`, :data:`SAME`, :data:`SHORT`, :data:`OPPOSITE` by :data:`RULE`, or :data:`UNDECIDED`."""
    if not all(np.isfinite([shift, predicted, noise])):
        return UNDECIDED
    if abs(shift) <= noise:
        return SAME
    if np.sign(shift) != np.sign(predicted):
        return OPPOSITE
    return BOUND if abs(shift) >= 0.5 * abs(predicted) else SHORT


@dataclasses.dataclass(frozen=True)
class Measured:
    """Every table of the check (see :func:`run`)."""

    models: pd.DataFrame  # one row per (shape, seed): :func:`shape_table`
    sweep: pd.DataFrame  # one row per SAE of every dictionary size: :func:`train_sweep`
    pairs: pd.DataFrame  # every pair of models at equal tokens: :func:`match_pairs`
    matched: pd.DataFrame  # one row per model at matched loss: :func:`read_matched`
    matched_pairs: pd.DataFrame  # every pair of models at matched loss
    sparsity: pd.DataFrame  # one row per (shape, coefficient): :func:`sparsity_sweep`


def run(cfg: EqualNConfig) -> Measured:
    """The whole check, at equal tokens and at matched loss, and the sparsity sweep."""
    u_cfg = cfg.universality()
    _, data = model_suite.prepare_data(u_cfg.saes().language_models())
    trained = train_models(cfg, data)
    models = shape_table(cfg, trained)
    sweep = train_sweep(cfg, trained, data)
    activations = read_largest(cfg, trained, sweep, data)
    pairs = match_pairs(cfg, models, activations, u_cfg.match_threshold)
    matched, matched_activations = read_matched(cfg, trained, matched_steps(models, trained), sweep, data)
    matched_pairs = match_pairs(cfg, matched, matched_activations, u_cfg.match_threshold)
    return Measured(models, sweep, pairs, matched, matched_pairs, sparsity_sweep(cfg, trained, sweep, data))


def shift_outcome(pairs: pd.DataFrame, loss: dict) -> dict:
    """The shifts of ``pairs`` and the four verdicts (censored or not, per site or per layer), each
    inconclusive unless ``loss`` (:func:`loss_premise`) finds the shapes at comparable loss."""
    shifts, noise = shift_verdicts(pairs)
    return {
        "seed_noise": noise,
        "shifts": shifts.to_dict("records"),
        "share_matched_same_shape": float(pairs[pairs.kind == SAME_SHAPE].share_matched.mean()),
        "share_matched_across_shapes": float(pairs[pairs.kind == ACROSS_SHAPES].share_matched.mean()),
        "verdict": verdicts.bound_rate(shifts.verdict.tolist(), loss["comparable"]),
        "verdict_per_layer": verdicts.bound_rate(shifts.verdict_per_layer.tolist(), loss["comparable"]),
        "verdict_uncensored": verdicts.bound_rate(shifts.verdict_all.tolist(), loss["comparable"]),
        "verdict_uncensored_per_layer": verdicts.bound_rate(shifts.verdict_all_per_layer.tolist(), loss["comparable"]),
    }


def summary(cfg: EqualNConfig, measured: Measured) -> dict:
    """What chapter 7 concludes, as saved in ``summary.json`` and read by the ladder and chapter 10."""
    models, sweep, pairs = measured.models, measured.sweep, measured.pairs
    shifts, noise = shift_verdicts(pairs)
    largest = sweep[sweep.d_sae == cfg.largest_dictionary].groupby("shape", sort=False)
    same = pairs[pairs.kind == SAME_SHAPE].share_matched
    across = pairs[pairs.kind == ACROSS_SHAPES].share_matched
    loss = loss_premise(models, cfg.loss_tolerance)
    matched_loss = matched_premise(measured.matched, cfg.loss_tolerance)
    target_ev, at_ev = at_explained_variance(measured.sparsity)
    return {
        "shapes": list(models["shape"].unique()),
        "lm_seeds": cfg.lm_seeds,
        "relative_depth": cfg.relative_depth,
        "loss": loss,
        "load_at_largest": largest.load.mean().to_dict(),
        "l0_at_largest": largest.l0.mean().to_dict(),
        "explained_variance_at_largest": largest.explained_variance.mean().to_dict(),
        "share_matched_same_shape": float(same.mean()),
        "share_matched_across_shapes": float(across.mean()),
        "seed_noise": noise,
        "shifts": shifts.to_dict("records"),
        "rule": RULE,
        "verdict": verdicts.bound_rate(shifts.verdict.tolist(), loss["comparable"]),
        "accountings": ACCOUNTINGS,
        "verdict_per_layer": verdicts.bound_rate(shifts.verdict_per_layer.tolist(), loss["comparable"]),
        "verdict_uncensored": verdicts.bound_rate(shifts.verdict_all.tolist(), loss["comparable"]),
        "verdict_uncensored_per_layer": verdicts.bound_rate(shifts.verdict_all_per_layer.tolist(), loss["comparable"]),
        "l0_and_dead_at_largest": largest[["l0", "dead_latents"]].mean().to_dict("index"),
        "bound_rate_found": bool((shifts.verdict == BOUND).any()),
        "same_rate_everywhere": bool((shifts.verdict == SAME).all()),
        "matched_loss": {
            "target_loss": float(measured.matched.target_loss.iloc[0]),
            "steps": measured.matched.set_index("model").step.to_dict(),
            "loss": matched_loss,
            **shift_outcome(measured.matched_pairs, matched_loss),
            "l0_and_dead": measured.matched.groupby("shape", sort=False)[["l0", "dead_latents"]].mean().to_dict("index"),
        },
        "at_explained_variance": {"target": target_ev, "by_shape": at_ev.set_index("shape").drop(columns="explained_variance").to_dict("index")},
    }
