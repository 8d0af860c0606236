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


def eval_tokens(data: TokenData, cfg: SAEsConfig) -> torch.Tensor:
    """(eval_windows, sae_context) held-out windows, evenly spaced, identical for every model."""
    starts = np.linspace(0, len(data.val) - cfg.sae_context - 1, cfg.eval_windows).astype(np.int64)
    return torch.from_numpy(np.stack([data.val[s : s + cfg.sae_context] for s in starts]).astype(np.int64))


def run(cfg: SAEsConfig, trained: dict[str, TrainedModel], data: TokenData) -> pd.DataFrame:
    """Train (or find) and evaluate every SAE; one row per (model, site) with its metrics and folder."""
    lm_cfg = cfg.language_models()
    roles: dict[str, str] = {}
    for planned in language_models.plan(lm_cfg):  # a model can play two roles (family and pair)
        roles[planned.name] = ", ".join(dict.fromkeys(filter(None, [roles.get(planned.name), planned.role])))
    device = hardware.resolve_device(cfg.device)
    settings = settings_for(cfg)
    windows = eval_tokens(data, cfg).to(device)
    folder = paths.run_dir(cfg.preset, cfg.runs_dir or None) / "saes"
    rows = []
    bar = tqdm(total=len(trained) * len(cfg.hooks), desc="SAEs")
    for name, model in trained.items():
        hooked = to_hooked(model.model, data.tokenizer).to(device)
        for requested in cfg.hooks:
            hook = map_hook(requested, lm_cfg.n_layers, model.model.shape.n_layers)
            sae_folder = train_sae(name, model.summary["key"], hooked, hook, data.train, data.key, settings, folder, device)
            metrics = evaluate_sae(hooked, hook, load_sae(sae_folder, device), windows)
            summary = pd.read_json(sae_folder / "summary.json", typ="series")
            rows.append({"model": name, "role": roles[name], "n_layers": model.model.shape.n_layers,
                         "d_model": model.model.shape.d_model, "N (12·L·d²)": model.summary["kaplan_params"],
                         "site": requested, "hook": hook, **metrics, "d_sae": cfg.d_sae,
                         "sae_tokens_per_s": float(summary["tokens_per_s"]), "folder": str(sae_folder)})
            bar.update()
    bar.close()
    return pd.DataFrame(rows)
