"""Chapter 6's diagnostic: r(importance, universality) for one pair of widths as the language models
train and as their SAEs train.

Two axes, each a sequence of stages at which both models of the pair are read with one SAE each:

- "language models": the models at initialisation (step 0, rebuilt from the training seed), at
  every kept snapshot and trained; at each step an SAE with chapter 4's settings and seed is trained
  on that step's weights (the last step's SAE is chapter 4's own, found in the cache);
- "SAEs": the trained models with their SAE read at the checkpoints SAELens keeps while it trains
  (the same SAE as chapter 4's: keeping checkpoints does not change the weights, which a test checks),
  and finished.

At every stage both SAEs are read over chapter 5's held-out windows (activations cached as in
chapter 5), r is computed in both directions with an interval over latents, and each SAE is
evaluated on chapter 4's windows (explained variance, loss recovered, L0; the model's own loss).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from helpers.chapters import model_suite, sae_suite, verdicts
from helpers.chapters.configs import DynamicsConfig
from helpers.chapters.universality_suite import CROSS_WIDTH, windows_key
from helpers.core import hardware, paths
from helpers.lm.family import to_hooked
from helpers.lm.gpt import GPT
from helpers.lm.tokens import TokenData
from helpers.lm.training import TrainedModel, snapshot_path
from helpers.sae.evaluation import evaluate_sae
from helpers.sae.training import CHECKPOINTS, checkpoint_folders, load_sae, map_hook, train_sae
from helpers.universality.activations import SparseActivations, collect_activations
from helpers.universality.correlation import latent_stats, max_correlations
from helpers.universality.fits import bootstrap_r, percentile_interval, rank_correlation

LM_AXIS, SAE_AXIS = "language models", "SAEs"


@dataclass(frozen=True)
class Stage:
    """One model of the pair at one point of one axis, with the SAE read there."""

    axis: str
    model: str
    lm_step: int  # the language model's training step
    sae_tokens: int  # tokens the SAE had trained on
    lm_fraction: float  # of the language model's training
    sae_fraction: float  # of the SAE's training
    sae_folder: Path


class MissingSnapshotError(FileNotFoundError):
    """A language model trained before snapshots were kept lacks one the chapter reads."""


def pair_names(cfg: DynamicsConfig) -> list[str]:
    """The pair's model names in chapter 3's plan, narrower first."""
    family = {m.shape.d_model: m.name for m in model_suite.plan(cfg.universality().saes().language_models()) if m.role == "family"}
    return [family[width] for width in cfg.widths]


def check_snapshots(cfg: DynamicsConfig, trained: dict[str, TrainedModel]) -> None:
    """Every snapshot the chapter reads exists; raised before any SAE is trained."""
    for name in pair_names(cfg):
        for step in cfg.steps_read:
            path = snapshot_path(trained[name].folder, step)
            if 0 < step < int(trained[name].summary["settings"]["steps"]) and not path.exists():
                raise MissingSnapshotError(
                    f"{path} is missing: {name} was trained before snapshots were kept; delete "
                    f"{trained[name].folder} so that chapter 3 trains it again, or set lm_steps to steps that exist"
                )


def model_at(trained: TrainedModel, step: int) -> GPT:
    """The model's weights after ``step`` steps: the initialisation (rebuilt from the training seed),
    a kept snapshot, or the trained model."""
    settings = trained.summary["settings"]
    if step == settings["steps"]:
        return trained.model
    model = GPT(trained.model.shape, settings["n_ctx"], trained.summary["vocab_size"], seed=settings["seed"])
    if step > 0:
        model.load_state_dict(torch.load(snapshot_path(trained.folder, step), map_location="cpu", weights_only=True))
    return model.eval()


def train_stages(cfg: DynamicsConfig, trained: dict[str, TrainedModel], data: TokenData) -> list[Stage]:
    """Train (or find) every SAE of both axes; one :class:`Stage` per (axis, point, model)."""
    u_cfg = cfg.universality()
    s_cfg = u_cfg.saes()
    lm = s_cfg.language_models()
    device = hardware.resolve_device(cfg.device)
    saes_dir = paths.run_dir(cfg.preset, cfg.runs_dir or None) / "saes"
    settings = dataclasses.replace(sae_suite.settings_for(s_cfg), seed=sae_suite.sae_seed(s_cfg, lm.seed, 0))
    stages = []
    bar = tqdm(total=len(pair_names(cfg)) * (len(cfg.steps_read) + 1), desc="SAEs along both axes")
    for name in pair_names(cfg):
        model = trained[name]
        hook = map_hook(u_cfg.analysis_site, lm.n_layers, model.model.shape.n_layers)
        for step in cfg.steps_read:
            hooked = to_hooked(model_at(model, step), data.tokenizer, device)
            key = model.summary["key"] if step == lm.steps else f"{model.summary['key']}@step{step}"
            folder = train_sae(name, key, hooked, hook, data.train, data.key, settings, saes_dir, device)
            stages.append(Stage(LM_AXIS, name, step, settings.training_tokens, step / lm.steps, 1.0, folder))
            bar.update()
        # the last step read is the trained model: its SAE trained again, keeping checkpoints
        folder = train_sae(
            name, model.summary["key"], hooked, hook, data.train, data.key, settings, saes_dir, device, checkpoints=cfg.sae_checkpoints
        )
        for tokens, checkpoint in checkpoint_folders(folder).items():
            stages.append(Stage(SAE_AXIS, name, lm.steps, tokens, 1.0, tokens / settings.training_tokens, checkpoint))
        final = next(s for s in stages if s.axis == LM_AXIS and s.model == name and s.lm_step == lm.steps)
        stages.append(dataclasses.replace(final, axis=SAE_AXIS))
        bar.update()
    bar.close()
    return stages


def activations_folder(cfg: DynamicsConfig, stage: Stage, windows: torch.Tensor) -> Path:
    """Where a stage's latent activations are cached: chapter 5's folder for a finished SAE (so
    chapter 5's activations are reused), one per checkpoint otherwise."""
    root = paths.run_dir(cfg.preset, cfg.runs_dir or None) / "activations" / stage.model
    sae_name = (
        stage.sae_folder.name if stage.sae_folder.parent.name != CHECKPOINTS else f"{stage.sae_folder.parent.parent.name}-t{stage.sae_folder.name}"
    )
    return root / f"{sae_name}-w{windows_key(windows)}"


def read_stages(
    cfg: DynamicsConfig, stages: list[Stage], trained: dict[str, TrainedModel], data: TokenData, windows: torch.Tensor, eval_windows: torch.Tensor
) -> tuple[pd.DataFrame, dict[Stage, SparseActivations]]:
    """Each stage's SAE evaluated on ``eval_windows`` and read over ``windows`` (both (windows, context));
    one row per stage with the model's loss and the SAE's quality, and the activations."""
    device = hardware.resolve_device(cfg.device)
    lm = cfg.universality().saes().language_models()
    rows, activations = [], {}
    read: dict[Path, tuple[SparseActivations, dict]] = {}  # the finished SAE ends both axes: read once
    for stage in tqdm(stages, desc="stages read"):
        model = trained[stage.model]
        if stage.sae_folder not in read:
            hook = map_hook(cfg.universality().analysis_site, lm.n_layers, model.model.shape.n_layers)
            hooked = to_hooked(model_at(model, stage.lm_step), data.tokenizer, device)
            sae = load_sae(stage.sae_folder, device)
            folder = activations_folder(cfg, stage, windows)
            read[stage.sae_folder] = (
                SparseActivations.open(folder)
                if (folder / "meta.json").exists()
                else collect_activations(hooked, hook, sae, windows.to(device), folder),
                evaluate_sae(hooked, hook, sae, eval_windows.to(device)),
            )
        activations[stage], metrics = read[stage.sae_folder]
        rows.append(
            {
                "axis": stage.axis,
                "model": stage.model,
                "d_model": model.model.shape.d_model,
                "lm_step": stage.lm_step,
                "lm_fraction": stage.lm_fraction,
                "sae_tokens": stage.sae_tokens,
                "sae_fraction": stage.sae_fraction,
                "lm_loss": metrics["ce_clean"],
                **metrics,
                "folder": str(stage.sae_folder),
            }
        )
    return pd.DataFrame(rows), activations


def correlate_stages(cfg: DynamicsConfig, stages: list[Stage], activations: dict[Stage, SparseActivations]) -> pd.DataFrame:
    """At every point of each axis: r(importance, universality) of each model's latents against the
    other model's SAE, with a percentile interval over latents (bootstrap), Spearman's ρ, mean
    universality and the live latents; one row per (axis, point, scored model)."""
    u_cfg = cfg.universality()
    device = hardware.resolve_device(cfg.device)
    narrow, wide = pair_names(cfg)
    points = [
        (s, next(o for o in stages if o.model == wide and (o.axis, o.lm_step, o.sae_tokens) == (s.axis, s.lm_step, s.sae_tokens)))
        for s in stages
        if s.model == narrow
    ]
    measured: dict[tuple[Path, Path], list[dict]] = {}  # a pair read on both axes is measured once
    rows = []
    for a, b in tqdm(points, desc="correlations along both axes"):
        key = (activations[a].folder, activations[b].folder)
        if key not in measured:
            measured[key] = _pair_r(activations[a], activations[b], u_cfg.epsilon, u_cfg.bootstrap_samples, cfg.seed + 2 * len(measured), device)
        for (scored, against), values in zip(((a, b), (b, a)), measured[key]):
            rows.append(
                {
                    "axis": a.axis,
                    "lm_step": a.lm_step,
                    "lm_fraction": a.lm_fraction,
                    "sae_tokens": a.sae_tokens,
                    "sae_fraction": a.sae_fraction,
                    "scored": scored.model,
                    "against": against.model,
                    **values,
                }
            )
    return pd.DataFrame(rows)


def _pair_r(a: SparseActivations, b: SparseActivations, epsilon: float, samples: int, seed: int, device: torch.device) -> list[dict]:
    """r(importance, universality) of A's latents against B and of B's against A, each with its
    percentile interval over ``samples`` bootstrap resamples of the live latents."""
    result = max_correlations(a, b, device=device, epsilon=epsilon, stats=(latent_stats(a), latent_stats(b)))
    out = []
    for direction, (stats, universality) in enumerate(((result.stats_a, result.a_to_b), (result.stats_b, result.b_to_a))):
        live = np.isfinite(universality)
        x, y = stats.importance[live], universality[live]
        low, high = percentile_interval(bootstrap_r(x, y, samples, seed=seed + direction))
        out.append(
            {
                "r": float(np.corrcoef(x, y)[0, 1]),
                "r_low": low,
                "r_high": high,
                "spearman": rank_correlation(x, y),
                "mean_universality": float(y.mean()),
                "live": int(live.sum()),
                "latents": len(live),
            }
        )
    return out


def run(cfg: DynamicsConfig) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The whole diagnostic: (stage table of :func:`read_stages`, r table of :func:`correlate_stages`)."""
    u_cfg = cfg.universality()
    s_cfg = u_cfg.saes()
    _, data = model_suite.prepare_data(s_cfg.language_models())
    trained = model_suite.train_all(s_cfg.language_models(), data)
    check_snapshots(cfg, trained)
    windows = sae_suite.held_out_windows(data, u_cfg.stat_windows, s_cfg.sae_context)
    stages = train_stages(cfg, trained, data)
    table, activations = read_stages(cfg, stages, trained, data, windows, sae_suite.eval_tokens(data, s_cfg))
    return table, correlate_stages(cfg, stages, activations)


#: Per axis: the column that orders its points and the column giving the share of training done.
POSITIONS = {LM_AXIS: ("lm_step", "lm_fraction"), SAE_AXIS: ("sae_tokens", "sae_fraction")}
RULE = verdicts.TREND_RULE


def seed_spread(pair_summary: pd.DataFrame, site: str, names: list[str]) -> float:
    """How far r moves with the SAEs' seeds alone: the largest range (max − min) of r over chapter 5's
    pairs of SAE seeds for the two models, in either direction."""
    rows = pair_summary[
        (pair_summary.kind == CROSS_WIDTH) & (pair_summary.site == site) & pair_summary.scored.isin(names) & pair_summary.against.isin(names)
    ]
    return float(rows.groupby(["scored", "against"]).r.agg(lambda r: r.max() - r.min()).max())


def rise(r_table: pd.DataFrame, axis: str) -> dict:
    """Along ``axis``: r at its first and last point (mean of both directions, as are the interval's
    ends), the share of training at the first point, the slope of r against log training fraction
    over every trained point with its interval, a hump if there is one, and "rises", "falls" or
    "flat" by :data:`RULE` (its verdict: yes, no, inconclusive)."""
    position, fraction = POSITIONS[axis]
    points = r_table[r_table.axis == axis].groupby(fraction)[["r", "r_low", "r_high"]].mean().sort_index()
    trained = points[points.index > 0]
    slope = verdicts.slope_interval(trained.index.to_numpy(), trained.r.to_numpy(), trained.r_low.to_numpy(), trained.r_high.to_numpy())
    at = verdicts.hump([verdicts.Interval(p.r, p.r_low, p.r_high) for p in points.itertuples()])
    judged = verdicts.trend(slope, float(points.index[at]) if at is not None else None)
    return {
        "axis": axis,
        "r_first": float(points.r.iloc[0]),
        "r_last": float(points.r.iloc[-1]),
        "change": float(points.r.iloc[-1] - points.r.iloc[0]),
        "first_fraction": float(points.index[0]),
        "slope": slope.value,
        "slope_low": slope.low,
        "slope_high": slope.high,
        "hump_at": float(points.index[at]) if at is not None else None,
        "verdict": judged.verdict,
        "reason": judged.reason,
        "direction": {verdicts.YES: "rises", verdicts.NO: "falls"}.get(judged.verdict, "flat"),
    }


def explanation(lm: str, sae: str) -> str:
    """Which explanation of a small r the two axes' directions support, in words."""
    if lm == "rises" and sae == "rises":
        return "both: r grows as the language models train and as the SAEs train"
    if lm == "rises":
        return "the language models' training: r grows as they train, not as the SAEs train"
    if sae == "rises":
        return "the SAEs' training: r grows as the SAEs train, not as the language models train"
    if lm == "falls" or sae == "falls":
        return "neither: r falls as the " + ("language models" if lm == "falls" else "SAEs") + " train, and grows along neither axis"
    return "undecided: along neither axis does r's slope leave its interval around zero over this range"


def summary(r_table: pd.DataFrame, names: list[str], spread: float) -> dict:
    """What chapter 6 concludes, as saved in ``summary.json`` and read by the ladder and chapter 10;
    ``spread`` (r's range over chapter 5's SAE seeds for the pair) is reported beside the slopes."""
    axes = {axis: rise(r_table, axis) for axis in (LM_AXIS, SAE_AXIS)}
    return {
        "pair": names,
        "seed_spread": spread,
        "axes": axes,
        "rule": RULE,
        "explanation": explanation(axes[LM_AXIS]["direction"], axes[SAE_AXIS]["direction"]),
    }
