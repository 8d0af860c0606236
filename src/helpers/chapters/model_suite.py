"""Chapter 3's plan: which models to train for a config, and one call that trains them all."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import pandas as pd

from helpers.chapters.configs import LanguageModelsConfig
from helpers.core import hardware, paths
from helpers.core.keys import cache_key
from helpers.lm.corpus import Corpus, load_corpus
from helpers.lm.family import N_COLUMN, ModelShape, model_name
from helpers.lm.gpt import GPT
from helpers.lm.tokens import TokenData, prepare_tokens
from helpers.lm.training import TrainedModel, TrainSettings, train_model
from helpers.theory.scaling import kaplan_parameter_count


@dataclass(frozen=True)
class PlannedModel:
    name: str
    role: str  # "family", "pair" or "seed control"
    shape: ModelShape
    seed: int


def plan(cfg: LanguageModelsConfig) -> list[PlannedModel]:
    """The width sweep (every width with each of ``family_seeds``: the first seed's models are the
    family, the others the seed controls), the equal-N pair, and the seed control of
    ``seed_control_width`` when the family has one seed per width (a shape already planned is reused)."""

    def shape(layers: int, width: int) -> ModelShape:
        return ModelShape(layers, width, cfg.head_dim, cfg.min_heads)

    models = [PlannedModel(model_name(cfg.n_layers, w), "family", shape(cfg.n_layers, w), cfg.seed) for w in cfg.widths]
    for layers, width in (cfg.pair_a, cfg.pair_b):
        models.append(PlannedModel(model_name(layers, width), "pair", shape(layers, width), cfg.seed))
    controls = [(w, s) for w in cfg.widths for s in cfg.family_seeds[1:]] or [(cfg.seed_control_width, cfg.control_seed)]
    models += [PlannedModel(seed_model_name(cfg, w, s), "seed control", shape(cfg.n_layers, w), s) for w, s in controls]
    return models


def seed_model_name(cfg: LanguageModelsConfig, width: int, seed: int) -> str:
    """The family model of ``width`` trained from ``seed`` (the family's own name for ``cfg.seed``)."""
    return model_name(cfg.n_layers, width, "" if seed == cfg.seed else f"seed{seed}")


def untrained_name(cfg: LanguageModelsConfig, width: int, seed: int) -> str:
    """The untrained model of ``width`` initialised from ``seed``."""
    return model_name(cfg.n_layers, width, "random" if seed == cfg.seed else f"random-seed{seed}")


def seed_models(cfg: LanguageModelsConfig) -> dict[int, list[str]]:
    """Width → its trained models, one per seed that every width has (``family_seeds``), first seed first."""
    return {w: [seed_model_name(cfg, w, s) for s in cfg.family_seeds] for w in cfg.widths}


def settings_for(cfg: LanguageModelsConfig, seed: int) -> TrainSettings:
    return TrainSettings(
        steps=cfg.steps,
        batch_size=cfg.batch_size,
        n_ctx=cfg.n_ctx,
        learning_rate=cfg.learning_rate,
        warmup_steps=cfg.warmup_steps,
        eval_interval=cfg.eval_interval,
        eval_windows=cfg.eval_windows,
        checkpoint_interval=cfg.checkpoint_interval,
        seed=seed,
    )


def prepare_data(cfg: LanguageModelsConfig, corpus: Corpus | None = None) -> tuple[Corpus, TokenData]:
    """The corpus (read now unless given) and its token shards (built once, then read from the cache)."""
    corpus = corpus or load_corpus(cfg.corpus)
    return corpus, prepare_tokens(corpus, cfg.d_vocab, cfg.val_fraction, paths.cache_dir(cfg.runs_dir or None))


def train_all(cfg: LanguageModelsConfig, data: TokenData) -> dict[str, TrainedModel]:
    """Train every planned model (cached by configuration, resumed after an interruption)."""
    device = hardware.resolve_device(cfg.device)
    folder = paths.models_dir(cfg.preset, cfg.runs_dir or None)
    trained: dict[str, TrainedModel] = {}
    for planned in plan(cfg):
        if planned.name not in trained:
            trained[planned.name] = train_model(planned.name, planned.shape, data, settings_for(cfg, planned.seed), folder, device)
    return trained


def random_init_model(cfg: LanguageModelsConfig, data: TokenData, width: int, seed: int) -> TrainedModel:
    """An untrained model of the family's depth and ``width``, initialised from ``seed`` exactly as
    training would start: the floor for what an SAE finds in a network that learned nothing."""
    shape = ModelShape(cfg.n_layers, width, cfg.head_dim, cfg.min_heads)
    model = GPT(shape, cfg.n_ctx, cfg.d_vocab, seed=seed)
    key = cache_key(["random init", dataclasses.asdict(shape), cfg.n_ctx, cfg.d_vocab, seed, data.key], sort_keys=False)
    name = untrained_name(cfg, width, seed)
    summary = {"key": key, "kaplan_params": float(kaplan_parameter_count(cfg.n_layers, width)), "seed": seed}
    return TrainedModel(name, paths.models_dir(cfg.preset, cfg.runs_dir or None) / f"{name}-{key}", model.eval(), pd.DataFrame(), summary)


def untrained_models(cfg: LanguageModelsConfig, data: TokenData) -> dict[str, TrainedModel]:
    """The untrained model of every family width for each of ``family_seeds``, by name."""
    return {m.name: m for m in (random_init_model(cfg, data, w, s) for s in cfg.family_seeds for w in cfg.widths)}


def summary_table(cfg: LanguageModelsConfig, trained: dict[str, TrainedModel]) -> pd.DataFrame:
    """One row per planned model: role, shape, N, learning rate, tokens, final losses, speed, folder."""
    rows = []
    for planned in plan(cfg):
        s = trained[planned.name].summary
        rows.append(
            {
                "model": planned.name,
                "role": planned.role,
                "n_layers": planned.shape.n_layers,
                "d_model": planned.shape.d_model,
                "n_heads": planned.shape.n_heads,
                "seed": planned.seed,
                "aspect_ratio": planned.shape.aspect_ratio,
                N_COLUMN: s["kaplan_params"],
                "peak_lr": s["peak_lr"],
                "train_tokens": s["train_tokens"],
                "final_train_loss": s["final_train_loss"],
                "final_val_loss": s["final_val_loss"],
                "tokens_per_s": s["tokens_per_s"],
                "folder": str(trained[planned.name].folder),
            }
        )
    return pd.DataFrame(rows)


def seed_gaps(models: pd.DataFrame) -> pd.DataFrame:
    """One row per seed-control model of a model table (:func:`summary_table`): its width, its seed,
    its final validation loss, the first seed's, and the gap |ΔL| in nats between them."""
    family = models[models.role.str.contains("family")].drop_duplicates("model")[["n_layers", "d_model", "final_val_loss"]]
    controls = models[models.role == "seed control"].drop_duplicates("model")
    table = controls.merge(family.rename(columns={"final_val_loss": "first_seed_loss"}), on=["n_layers", "d_model"])
    table = table.rename(columns={"final_val_loss": "loss"}).assign(gap=lambda t: (t.loss - t.first_seed_loss).abs())
    return table[["model", "d_model", "seed", "loss", "first_seed_loss", "gap"]].astype({"d_model": int, "seed": int}).reset_index(drop=True)
