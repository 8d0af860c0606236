"""Chapter 4's plan: one SAE per (model of chapter 3, hook site), trained, loaded and evaluated on
the same held-out windows for every model."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from helpers import hardware, language_models, paths
from helpers.config import SAEsConfig
from helpers.models import to_hooked
from helpers.saes import SAESettings, evaluate_sae, load_sae, map_hook, train_sae
from helpers.tokens import TokenData
from helpers.training import TrainedModel


def settings_for(cfg: SAEsConfig) -> SAESettings:
    return SAESettings(
        architecture=cfg.architecture, d_sae=cfg.d_sae, l1_coefficient=cfg.l1_coefficient, k=cfg.topk_k,
        lr=cfg.sae_lr, l1_warm_up_fraction=cfg.l1_warm_up_fraction, lr_decay_fraction=cfg.lr_decay_fraction,
        training_tokens=cfg.sae_training_tokens, context=cfg.sae_context, batch_tokens=cfg.sae_batch_tokens,
        seed=cfg.seed,
    )


def held_out_windows(data: TokenData, n_windows: int, context: int) -> torch.Tensor:
    """(n_windows, context) windows of the validation split, evenly spaced: the same for every model."""
    starts = np.linspace(0, len(data.val) - context - 1, n_windows).astype(np.int64)
    return torch.from_numpy(np.stack([data.val[s : s + context] for s in starts]).astype(np.int64))


def eval_tokens(data: TokenData, cfg: SAEsConfig) -> torch.Tensor:
    """Chapter 4's evaluation windows: (eval_windows, sae_context)."""
    return held_out_windows(data, cfg.eval_windows, cfg.sae_context)


def model_roles(cfg: SAEsConfig) -> dict[str, str]:
    """Model name → its roles in chapter 3's plan (a model can play two: family and pair)."""
    roles: dict[str, str] = {}
    for planned in language_models.plan(cfg.language_models()):
        roles[planned.name] = ", ".join(dict.fromkeys(filter(None, [roles.get(planned.name), planned.role])))
    return roles


def train_saes(cfg: SAEsConfig, trained: dict[str, TrainedModel], data: TokenData,
               evaluate_on: torch.Tensor | None = None) -> pd.DataFrame:
    """Train (or find) every SAE; one row per (model, site) with its folder, and its metrics on the
    windows ``evaluate_on`` (windows, context) when given."""
    lm_cfg = cfg.language_models()
    roles = model_roles(cfg)
    device = hardware.resolve_device(cfg.device)
    settings = settings_for(cfg)
    folder = paths.run_dir(cfg.preset, cfg.runs_dir or None) / "saes"
    rows = []
    bar = tqdm(total=len(trained) * len(cfg.hooks), desc="SAEs")
    for name, model in trained.items():
        hooked = to_hooked(model.model, data.tokenizer, device)
        for requested in cfg.hooks:
            hook = map_hook(requested, lm_cfg.n_layers, model.model.shape.n_layers)
            sae_folder = train_sae(name, model.summary["key"], hooked, hook, data.train, data.key, settings, folder, device)
            metrics = {} if evaluate_on is None else evaluate_sae(hooked, hook, load_sae(sae_folder, device), evaluate_on.to(device))
            summary = pd.read_json(sae_folder / "summary.json", typ="series")
            rows.append({"model": name, "role": roles[name], "n_layers": model.model.shape.n_layers,
                         "d_model": model.model.shape.d_model, "N (12·L·d²)": model.summary["kaplan_params"],
                         "site": requested, "hook": hook, **metrics, "d_sae": cfg.d_sae,
                         "sae_tokens_per_s": float(summary["tokens_per_s"]), "folder": str(sae_folder)})
            bar.update()
    bar.close()
    return pd.DataFrame(rows)


def run(cfg: SAEsConfig, trained: dict[str, TrainedModel], data: TokenData) -> pd.DataFrame:
    """Train (or find) and evaluate every SAE on chapter 4's held-out windows."""
    return train_saes(cfg, trained, data, evaluate_on=eval_tokens(data, cfg))
