"""Chapter 4's plan: one SAE per (model of chapter 3, hook site), trained, loaded and evaluated on
the same held-out windows for every model."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from helpers.chapters import model_suite
from helpers.chapters.configs import SAEsConfig
from helpers.core import hardware, paths
from helpers.lm.family import N_COLUMN, to_hooked
from helpers.lm.tokens import TokenData
from helpers.lm.training import TrainedModel
from helpers.sae.evaluation import evaluate_sae
from helpers.sae.training import SAESettings, load_sae, map_hook, train_sae


def settings_for(cfg: SAEsConfig) -> SAESettings:
    return SAESettings(
        architecture=cfg.architecture,
        d_sae=cfg.d_sae,
        l1_coefficient=cfg.l1_coefficient,
        k=cfg.topk_k,
        lr=cfg.sae_lr,
        l1_warm_up_fraction=cfg.l1_warm_up_fraction,
        lr_decay_fraction=cfg.lr_decay_fraction,
        training_tokens=cfg.sae_training_tokens,
        context=cfg.sae_context,
        batch_tokens=cfg.sae_batch_tokens,
        seed=cfg.seed,
    )


def held_out_windows(data: TokenData, n_windows: int, context: int) -> torch.Tensor:
    """(n_windows, context) windows of the validation split, evenly spaced: the same for every model."""
    starts = np.linspace(0, len(data.val) - context - 1, n_windows).astype(np.int64)
    return torch.from_numpy(np.stack([data.val[s : s + context] for s in starts]).astype(np.int64))


#: The original analysis read random windows of the training split drawn with this seed.
ORIGINAL_WINDOW_SEED = 34


def training_windows(data: TokenData, n_windows: int, context: int, seed: int = ORIGINAL_WINDOW_SEED) -> torch.Tensor:
    """(n_windows, context) windows of the *training* split at random starts drawn with ``seed``, as
    the original analysis read them (its sampler is not recorded; numpy's generator stands in)."""
    starts = np.random.default_rng(seed).integers(0, len(data.train) - context - 1, size=n_windows)
    return torch.from_numpy(np.stack([data.train[s : s + context] for s in starts]).astype(np.int64))


def eval_tokens(data: TokenData, cfg: SAEsConfig) -> torch.Tensor:
    """Chapter 4's evaluation windows: (eval_windows, sae_context)."""
    return held_out_windows(data, cfg.eval_windows, cfg.sae_context)


def model_roles(cfg: SAEsConfig) -> dict[str, str]:
    """Model name → its roles in chapter 3's plan (a model can play two: family and pair)."""
    roles: dict[str, str] = {}
    for planned in model_suite.plan(cfg.language_models()):
        roles[planned.name] = ", ".join(dict.fromkeys(filter(None, [roles.get(planned.name), planned.role])))
    return roles


def replicated_models(cfg: SAEsConfig) -> list[str]:
    """The models that chapter 5 gives several SAE seeds at its site: the family and the seed control."""
    planned = model_suite.plan(cfg.language_models())
    return list(dict.fromkeys(p.name for p in planned if p.role in ("family", "seed control")))


def sae_seed(cfg: SAEsConfig, model_seed: int, replicate: int) -> int:
    """The SAE seed of ``replicate`` (0, 1, …) on a model trained with ``model_seed``: different for
    every (model seed, replicate), so a seed-control model's SAEs never share a seed with the others'."""
    return cfg.seed + replicate + 1000 * (model_seed - cfg.language_models().seed)


def train_one(cfg: SAEsConfig, name: str, model: TrainedModel, hooked, requested: str, seed: int, data: TokenData, device: torch.device) -> Path:
    """Train (or find) the SAE of model ``name`` at the ``requested`` hook (mapped to the model's depth)
    from ``seed``; returns its folder."""
    hook = map_hook(requested, cfg.language_models().n_layers, model.model.shape.n_layers)
    folder = paths.run_dir(cfg.preset, cfg.runs_dir or None) / "saes"
    settings = dataclasses.replace(settings_for(cfg), seed=seed)
    return train_sae(name, model.summary["key"], hooked, hook, data.train, data.key, settings, folder, device)


def _train_row(
    cfg: SAEsConfig,
    name: str,
    model: TrainedModel,
    hooked,
    requested: str,
    seed: int,
    role: str,
    data: TokenData,
    device: torch.device,
    evaluate_on: torch.Tensor | None,
) -> dict:
    hook = map_hook(requested, cfg.language_models().n_layers, model.model.shape.n_layers)
    sae_folder = train_one(cfg, name, model, hooked, requested, seed, data, device)
    metrics = {} if evaluate_on is None else evaluate_sae(hooked, hook, load_sae(sae_folder, device), evaluate_on.to(device))
    summary = pd.read_json(sae_folder / "summary.json", typ="series")
    return {
        "model": name,
        "role": role,
        "n_layers": model.model.shape.n_layers,
        "d_model": model.model.shape.d_model,
        N_COLUMN: model.summary["kaplan_params"],
        "site": requested,
        "hook": hook,
        "sae_seed": seed,
        **metrics,
        "d_sae": cfg.d_sae,
        "sae_tokens_per_s": float(summary["tokens_per_s"]),
        "folder": str(sae_folder),
    }


def train_saes(cfg: SAEsConfig, trained: dict[str, TrainedModel], data: TokenData, evaluate_on: torch.Tensor | None = None) -> pd.DataFrame:
    """Train (or find) every SAE; one row per (model, site) with its folder, and its metrics on the
    windows ``evaluate_on`` (windows, context) when given."""
    roles = model_roles(cfg)
    seeds = {planned.name: planned.seed for planned in model_suite.plan(cfg.language_models())}
    device = hardware.resolve_device(cfg.device)
    rows = []
    bar = tqdm(total=len(trained) * len(cfg.hooks), desc="SAEs")
    for name, model in trained.items():
        hooked = to_hooked(model.model, data.tokenizer, device)
        for requested in cfg.hooks:
            rows.append(_train_row(cfg, name, model, hooked, requested, sae_seed(cfg, seeds[name], 0), roles[name], data, device, evaluate_on))
            bar.update()
    bar.close()
    return pd.DataFrame(rows)


def train_replicates(
    cfg: SAEsConfig,
    trained: dict[str, TrainedModel],
    data: TokenData,
    site: str,
    replicates: int,
    roles: dict[str, str] | None = None,
    model_seeds: dict[str, int] | None = None,
) -> pd.DataFrame:
    """SAEs 0 … ``replicates`` − 1 of every model in ``trained`` at one requested ``site`` (replicate 0
    is chapter 4's, found in the cache), each from its own seed; one row per SAE, not evaluated.
    ``roles`` and ``model_seeds`` default to chapter 3's plan."""
    roles = roles or model_roles(cfg)
    model_seeds = model_seeds or {planned.name: planned.seed for planned in model_suite.plan(cfg.language_models())}
    device = hardware.resolve_device(cfg.device)
    rows = []
    bar = tqdm(total=len(trained) * replicates, desc=f"SAEs at {site}, {replicates} seeds each")
    for name, model in trained.items():
        hooked = to_hooked(model.model, data.tokenizer, device)
        for replicate in range(replicates):
            rows.append(
                _train_row(cfg, name, model, hooked, site, sae_seed(cfg, model_seeds[name], replicate), roles[name], data, device, None)
                | {"replicate": replicate}
            )
            bar.update()
    bar.close()
    return pd.DataFrame(rows)


def run(cfg: SAEsConfig, trained: dict[str, TrainedModel], data: TokenData) -> pd.DataFrame:
    """Train (or find) and evaluate every SAE on chapter 4's held-out windows."""
    return train_saes(cfg, trained, data, evaluate_on=eval_tokens(data, cfg))
