"""Chapter 3: the corpus and its tokens, the width family, the equal-N pair and a second seed, the conversion check."""

from __future__ import annotations

import itertools
import platform
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from helpers.chapters import model_suite, verdicts
from helpers.chapters.configs import LanguageModelsConfig
from helpers.core import reference
from helpers.core.provenance import ChapterRun
from helpers.lm import family
from helpers.lm.corpus import Corpus
from helpers.lm.family import N_COLUMN as N_COLUMN  # the family table's N, read by the chapter's figure
from helpers.lm.tokens import TokenData
from helpers.lm.training import KAPLAN_LR_INTERCEPT as KAPLAN_LR_INTERCEPT  # cited by the chapter's prose
from helpers.lm.training import KAPLAN_LR_SLOPE as KAPLAN_LR_SLOPE
from helpers.lm.training import TrainedModel
from helpers.theory import scaling

CONVERSION_TOLERANCE = 1e-4  # largest |logit difference| allowed between our model and its HookedTransformer


#: The results files this chapter writes (beside provenance.json); a bundle holding another is refused.
RESULT_FILES = ("conversion_check.json", "corpus.json", "loss_fit.json", "models.csv", "pair_and_seed.json", "training_curves.csv")


@dataclass(frozen=True)
class LanguageModels:
    """What chapter 3 shows."""

    corpus: Corpus
    data: TokenData
    trained: dict[str, TrainedModel]  # by model name
    table: pd.DataFrame  # one row per model: shape, N, role, losses, throughput
    family: pd.DataFrame  # the width family's rows of ``table``
    pair: pd.DataFrame  # the equal-N pair's two rows
    seed_rows: pd.DataFrame  # the seed-control width's two seeds
    loss_fit: scaling.PowerLawFit  # the family's final validation loss against N
    loss_law: dict  # the law against L∞ + A/d, its verdict, and the regime (loss_fit.json)
    conversion_hook: str  # a hook the converted model exposes
    max_logit_diff: float  # our widest model against its HookedTransformer, two validation windows


def compute(cfg: LanguageModelsConfig, run: ChapterRun) -> LanguageModels:
    """Tokenize the corpus and train every model of chapter 3 (each cached by its configuration)."""
    corpus, data = model_suite.prepare_data(cfg)
    run.save_json(
        "corpus",
        {
            "spec": cfg.corpus,
            "description": corpus.description,
            "fingerprint": corpus.fingerprint,
            "python": platform.python_version(),
            "documents": len(corpus.names),
            "bytes": corpus.n_bytes,
            "tokens": data.meta,
        },
    )
    trained = model_suite.train_all(cfg, data)
    table = model_suite.summary_table(cfg, trained)
    run.save_table("models", table)
    run.save_table("training_curves", pd.concat([t.history.assign(model=name) for name, t in trained.items()], ignore_index=True))

    family = table[table.role == "family"]
    seeded = family_over_seeds(table)
    fit = scaling.fit_power_law(seeded[N_COLUMN], seeded["final_val_loss"])
    talk_alpha = reference.original_run()["language_models"]["fitted_law"]["alpha"]
    law = loss_law_record(seeded, fit, talk_alpha, cfg.seed)
    run.save_json("loss_fit", law)

    pair = table[table.role == "pair"].reset_index(drop=True)
    seed_rows = table[table.d_model.eq(cfg.seed_control_width) & table.n_layers.eq(cfg.n_layers)].drop_duplicates("model")
    run.save_json(
        "pair_and_seed",
        {
            "pair": pair[["model", "aspect_ratio", "final_val_loss"]].to_dict("records"),
            "seed_control": seed_rows[["model", "seed", "final_val_loss"]].to_dict("records"),
            "seed_gaps": model_suite.seed_gaps(table).to_dict("records"),
        },
    )

    widest = family.iloc[-1]["model"]
    hook, difference = conversion_check(trained[widest], data, cfg.n_ctx, cfg.n_layers)
    run.save_json("conversion_check", {"model": widest, "max_abs_logit_diff": difference})
    return LanguageModels(corpus, data, trained, table, family, pair, seed_rows, fit, law, hook, difference)


def family_over_seeds(table: pd.DataFrame) -> pd.DataFrame:
    """The family's rows of a model table with every language-model seed of each width: the points
    the loss law is fitted to. Seed controls count only when every width has as many (a lone seed
    control of one width is a control, not a replicate); otherwise the family itself."""
    family = table[table.role == "family"].drop_duplicates("model")
    controls = table[(table.role == "seed control") & table.n_layers.isin(family.n_layers) & table.d_model.isin(family.d_model)]
    per_width = controls.drop_duplicates("model").groupby("d_model").size()
    balanced = len(per_width) == family.d_model.nunique() and per_width.nunique() == 1
    rows = pd.concat([family, controls.drop_duplicates("model")]) if balanced else family
    return rows.sort_values(["d_model", "seed"]).reset_index(drop=True)


#: At most this many choices of one language-model seed per width are fitted (a random sample beyond it).
MAX_SEED_COMBINATIONS = 256


def seed_combinations(family: pd.DataFrame, seed: int) -> list[pd.DataFrame]:
    """Every choice of one row per width of ``family`` (or ``MAX_SEED_COMBINATIONS`` drawn with
    ``seed`` when there are more); one choice when each width has one row."""
    groups = [group.index.to_numpy() for _, group in family.groupby("d_model", sort=True)]
    total = int(np.prod([len(g) for g in groups]))
    if total <= MAX_SEED_COMBINATIONS:
        choices = [np.array(c) for c in itertools.product(*groups)]
    else:
        rng = np.random.default_rng(seed)
        choices = [np.array([rng.choice(g) for g in groups]) for _ in range(MAX_SEED_COMBINATIONS)]
    return [family.loc[c] for c in choices]


def loss_law_record(family: pd.DataFrame, fit: scaling.PowerLawFit, talk_alpha: float, seed: int = 0) -> dict:
    """The family's loss law (log-log fit, as the talk's), the same law and L∞ + A/d fitted by least
    squares on the losses with their AIC and the verdict between them, and the regime: tokens per
    parameter and Kaplan's data term over its N term at each width. ``family`` holds every
    language-model seed of each width: the laws are fitted to all its rows, and, with several seeds,
    to every choice of one seed per width, whose range of α and ΔAIC is recorded and judged."""
    n, d, losses = family[N_COLUMN], family["d_model"], family["final_val_loss"]
    power, alternative = scaling.fit_power_law_on_loss(n, losses), scaling.fit_inverse_width(d, losses)
    widths = family.drop_duplicates("d_model")
    choices = seed_combinations(family, seed) if len(widths) < len(family) else []
    alphas, deltas = [], []
    for choice in choices:
        alphas.append(scaling.fit_power_law(choice[N_COLUMN], choice["final_val_loss"]).alpha)
        one_power = scaling.fit_power_law_on_loss(choice[N_COLUMN], choice["final_val_loss"])
        deltas.append(scaling.fit_inverse_width(choice["d_model"], choice["final_val_loss"]).aic - one_power.aic)
    seed_range = (min(deltas), max(deltas)) if deltas else None
    verdict = verdicts.loss_law(power.aic, alternative.aic, power.r_squared, alternative.r_squared, len(widths), seed_range)
    n_term, data_term = scaling.kaplan_terms(widths[N_COLUMN], widths["train_tokens"])
    return {
        "n_c": fit.n_c,
        "alpha": fit.alpha,
        "r_squared": fit.r_squared,
        "kaplan_alpha": scaling.KAPLAN_2020.alpha_n,
        "talk_alpha": talk_alpha,
        "laws": {law.law: {"parameters": law.parameters, "r_squared": law.r_squared, "rss": law.rss, "aic": law.aic} for law in (power, alternative)},
        "delta_aic": alternative.aic - power.aic,
        "verdict": verdict.verdict,
        "rule": verdict.rule,
        "control": verdict.control,
        "reason": verdict.reason,
        "tokens_per_parameter": (widths["train_tokens"] / widths[N_COLUMN]).tolist(),
        "data_over_n_term": (np.asarray(data_term) / np.asarray(n_term)).tolist(),
        "widths": widths["d_model"].tolist(),
        "lm_seeds": int(family.groupby("d_model").size().max()),
        "seed_combinations": len(choices),
        "alpha_over_seeds": [min(alphas), max(alphas)] if alphas else None,
        "delta_aic_over_seeds": list(seed_range) if seed_range else None,
    }


def conversion_check(trained: TrainedModel, data: TokenData, n_ctx: int, n_layers: int) -> tuple[str, float]:
    """Convert ``trained`` to a ``HookedTransformer`` and return one of its MLP-output hooks and the
    largest |logit difference| between the two on two validation windows; raises if the difference
    exceeds :data:`CONVERSION_TOLERANCE` or the hook is missing."""
    model = trained.model.float().cpu().eval()
    hooked = family.to_hooked(model, data.tokenizer)
    x = torch.from_numpy(data.val[: 2 * n_ctx].astype(np.int64)).view(2, n_ctx)
    with torch.no_grad():
        difference = float((hooked(x) - model(x)).abs().max())
    hook = f"blocks.{min(5, n_layers - 1)}.hook_mlp_out"
    if hook not in hooked.hook_dict or difference > CONVERSION_TOLERANCE:
        raise AssertionError(
            f"conversion to HookedTransformer failed: hook {hook} present: {hook in hooked.hook_dict}, "
            f"max |logit difference| {difference:.2e} (allowed {CONVERSION_TOLERANCE:g})"
        )
    return hook, difference
