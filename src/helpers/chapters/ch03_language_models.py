"""Chapter 3: the corpus and its tokens, the width family, the equal-N pair and a second seed, the conversion check."""

from __future__ import annotations

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
    fit = scaling.fit_power_law(family[N_COLUMN], family["final_val_loss"])
    talk_alpha = reference.original_run()["language_models"]["fitted_law"]["alpha"]
    law = loss_law_record(family, fit, talk_alpha)
    run.save_json("loss_fit", law)

    pair = table[table.role == "pair"].reset_index(drop=True)
    seed_rows = table[table.d_model.eq(cfg.seed_control_width) & table.n_layers.eq(cfg.n_layers)].drop_duplicates("model")
    run.save_json(
        "pair_and_seed",
        {
            "pair": pair[["model", "aspect_ratio", "final_val_loss"]].to_dict("records"),
            "seed_control": seed_rows[["model", "seed", "final_val_loss"]].to_dict("records"),
        },
    )

    widest = family.iloc[-1]["model"]
    hook, difference = conversion_check(trained[widest], data, cfg.n_ctx, cfg.n_layers)
    run.save_json("conversion_check", {"model": widest, "max_abs_logit_diff": difference})
    return LanguageModels(corpus, data, trained, table, family, pair, seed_rows, fit, law, hook, difference)


def loss_law_record(family: pd.DataFrame, fit: scaling.PowerLawFit, talk_alpha: float) -> dict:
    """The family's loss law (log-log fit, as the talk's), the same law and L∞ + A/d fitted by least
    squares on the losses with their AIC and the verdict between them, and the regime: tokens per
    parameter and Kaplan's data term over its N term at each width."""
    n, d, losses = family[N_COLUMN], family["d_model"], family["final_val_loss"]
    power, alternative = scaling.fit_power_law_on_loss(n, losses), scaling.fit_inverse_width(d, losses)
    verdict = verdicts.loss_law(power.aic, alternative.aic, power.r_squared, alternative.r_squared, len(family))
    n_term, data_term = scaling.kaplan_terms(n, family["train_tokens"])
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
        "tokens_per_parameter": (family["train_tokens"] / n).tolist(),
        "data_over_n_term": (np.asarray(data_term) / np.asarray(n_term)).tolist(),
        "widths": d.tolist(),
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
