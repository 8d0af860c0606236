"""Sparse autoencoders: SAELens training on our models and token shards, offline, cached by
configuration; loading with decoder norms folded; splice evaluation.

Training follows the original recipe by default (gated SAE, L1 coefficient with a warm-up, Adam at
a constant rate decayed over the final 20% of steps to a tenth, activations normalised to a fixed
expected norm). Each SAE lives in ``runs/<preset>/saes/<model>/<hook>-<key>/`` in SAELens's format
(``cfg.json``, ``sae_weights.safetensors``, ``sparsity.safetensors``) plus our ``summary.json``;
it is trained into a temporary folder and renamed into place when complete. An SAE trained with
``checkpoints=k`` lives in ``<hook>-<key>-checkpoints<k>/`` and also keeps SAELens's k checkpoints,
each as an inference SAE in ``checkpoints/<tokens seen>/`` (the activation scaling folded in, as in
the final SAE); keeping them changes where the SAE lives, not what it learns.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import os
import random
import shutil
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from helpers.core import atomic
from helpers.core.keys import cache_key

ARCHITECTURES = ("gated", "standard", "topk", "batchtopk", "jumprelu")  # SAELens architectures we train


@dataclass(frozen=True)
class SAESettings:
    """Everything besides the model, the hook and the data that determines a trained SAE."""

    architecture: str = "gated"
    d_sae: int = 1024
    l1_coefficient: float = 2.0  # gated, standard, jumprelu (its sparsity coefficient)
    k: int = 32  # topk, batchtopk
    lr: float = 5e-5
    l1_warm_up_fraction: float = 0.05
    lr_decay_fraction: float = 0.2
    training_tokens: int = 1_000_000
    context: int = 128
    batch_tokens: int = 4096
    seed: int = 0

    @property
    def steps(self) -> int:
        return self.training_tokens // self.batch_tokens


def map_hook(hook: str, from_layers: int, to_layers: int) -> str:
    """The same site at the same relative depth in a model of another depth.

    ``blocks.i.X`` in an ``from_layers``-block model becomes ``blocks.j.X`` with
    j = min(round(i · to_layers / from_layers), to_layers − 1); hooks outside blocks are unchanged.
    """
    parts = hook.split(".")
    if parts[0] != "blocks" or from_layers == to_layers:
        return hook
    index = min(round(int(parts[1]) * to_layers / from_layers), to_layers - 1)
    return ".".join(["blocks", str(index), *parts[2:]])


#: Bumped when training changes what the same settings produce (2: every generator seeded).
RECIPE_VERSION = 2


def sae_key(model_key: str, hook: str, settings: SAESettings, tokens_key: str) -> str:
    return cache_key([model_key, hook, dataclasses.asdict(settings), tokens_key, RECIPE_VERSION])


def _sae_config(settings: SAESettings, d_in: int):
    import sae_lens

    l1_warm_up = int(settings.l1_warm_up_fraction * settings.steps)
    common = {"d_in": d_in, "d_sae": settings.d_sae, "normalize_activations": "expected_average_only_in"}
    if settings.architecture == "gated":
        return sae_lens.GatedTrainingSAEConfig(**common, l1_coefficient=settings.l1_coefficient, l1_warm_up_steps=l1_warm_up)
    if settings.architecture == "standard":
        return sae_lens.StandardTrainingSAEConfig(**common, l1_coefficient=settings.l1_coefficient, l1_warm_up_steps=l1_warm_up)
    if settings.architecture == "jumprelu":
        return sae_lens.JumpReLUTrainingSAEConfig(**common, l0_coefficient=settings.l1_coefficient, l0_warm_up_steps=l1_warm_up)
    if settings.architecture == "topk":
        return sae_lens.TopKTrainingSAEConfig(**common, k=settings.k)
    if settings.architecture == "batchtopk":
        return sae_lens.BatchTopKTrainingSAEConfig(**common, k=settings.k)
    raise ValueError(f"architecture must be one of {', '.join(ARCHITECTURES)}, got {settings.architecture!r}")


def training_windows(tokens: np.ndarray, context: int) -> datasets.Dataset:  # noqa: F821
    """The training split cut into consecutive windows of ``context`` tokens, as SAELens reads them."""
    import datasets

    n = len(tokens) // context
    rows = np.asarray(tokens[: n * context], dtype=np.int64).reshape(n, context)
    return datasets.Dataset.from_dict({"tokens": rows})


@contextlib.contextmanager
def seeded(seed: int):
    """Every generator SAELens draws from (initialisation, buffer shuffles) seeded, the caller's
    states restored afterwards. SAELens's language-model runner does not apply its ``seed`` itself."""
    devices = list(range(torch.cuda.device_count())) if torch.cuda.is_available() else []
    python_state, numpy_state = random.getstate(), np.random.get_state()
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        random.seed(seed)
        np.random.seed(seed)
        try:
            yield
        finally:
            random.setstate(python_state)
            np.random.set_state(numpy_state)


CHECKPOINTS = "checkpoints"


def checkpoint_folders(folder: str | Path) -> dict[int, Path]:
    """An SAE folder's kept checkpoints: tokens seen → inference SAE folder, in training order."""
    found = [path for path in (Path(folder) / CHECKPOINTS).glob("*") if (path / "cfg.json").exists()]
    return {int(path.name): path for path in sorted(found, key=lambda path: int(path.name))}


def _inference_checkpoints(staging: Path) -> None:
    """Rewrite SAELens's training checkpoints (``checkpoints/<run id>/<tokens>/``: training weights
    for normalised activations, optimizer and buffer state) as inference SAEs in
    ``checkpoints/<tokens>/``, the activation norm scaling folded in as SAELens folds the final SAE's."""
    import sae_lens

    raw, converted = staging / CHECKPOINTS, staging / f"{CHECKPOINTS}.inference"
    for weights in sorted(raw.glob("*/*/sae_weights.safetensors")):
        source = weights.parent
        scaler = json.loads((source / "activation_scaler.json").read_text())
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sae = sae_lens.TrainingSAE.load_from_disk(str(source), device="cpu")
        if scaler.get("scaling_factor") is not None:
            sae.fold_activation_norm_scaling_factor(scaler["scaling_factor"])
        sae.save_inference_model(str(converted / source.name))
    shutil.rmtree(raw)
    if converted.exists():
        os.replace(converted, raw)


def train_sae(
    model_name: str,
    model_key: str,
    hooked,
    hook: str,
    train_tokens: np.ndarray,
    tokens_key: str,
    settings: SAESettings,
    saes_dir: str | Path,
    device: torch.device,
    checkpoints: int = 0,
) -> Path:
    """Train one SAE with SAELens (or find it cached); return its folder. With ``checkpoints`` = k > 0
    the folder also holds k checkpoints at equal shares of training (:func:`checkpoint_folders`)."""
    import sae_lens

    key = sae_key(model_key, hook, settings, tokens_key)
    folder = Path(saes_dir) / model_name / (f"{hook}-{key}" + (f"-{CHECKPOINTS}{checkpoints}" if checkpoints else ""))
    if (folder / "summary.json").exists():
        return folder
    with atomic.atomic_folder(folder) as staging:
        config = sae_lens.LanguageModelSAERunnerConfig(
            sae=_sae_config(settings, hooked.cfg.d_model),
            model_name=model_name,
            hook_name=hook,
            dataset_path="",
            is_dataset_tokenized=True,
            streaming=False,
            context_size=settings.context,
            prepend_bos=False,
            training_tokens=settings.training_tokens,
            train_batch_size_tokens=settings.batch_tokens,
            # the mixing buffer holds n_batches_in_buffer · context activations: two training batches
            n_batches_in_buffer=max(8, 2 * -(-settings.batch_tokens // settings.context)),
            store_batch_size_prompts=max(1, min(32, settings.batch_tokens // settings.context)),
            lr=settings.lr,
            lr_scheduler_name="constant",
            lr_decay_steps=int(settings.lr_decay_fraction * settings.steps),
            device=str(device),
            seed=settings.seed,
            logger=sae_lens.LoggingConfig(log_to_wandb=False),
            output_path=str(staging),
            checkpoint_path=str(staging / CHECKPOINTS),
            n_checkpoints=checkpoints,
            verbose=False,
            n_batches_for_norm_estimate=min(100, max(10, settings.steps // 10)),
        )
        started = time.perf_counter()
        with seeded(settings.seed), warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            sae_lens.LanguageModelSAETrainingRunner(
                config, override_model=hooked, override_dataset=training_windows(train_tokens, settings.context)
            ).run()
        wall = time.perf_counter() - started
        if checkpoints:
            _inference_checkpoints(staging)
        else:
            shutil.rmtree(staging / CHECKPOINTS, ignore_errors=True)
        summary = {
            "model": model_name,
            "model_key": model_key,
            "hook": hook,
            "key": key,
            "settings": dataclasses.asdict(settings),
            "tokens_key": tokens_key,
            "d_in": hooked.cfg.d_model,
            "checkpoints": checkpoints,
            "wall_time_s": wall,
            "tokens_per_s": settings.training_tokens / wall,
            "device": str(device),
        }
        (staging / "summary.json").write_text(json.dumps(summary, indent=2))
    return folder


def load_sae(folder: str | Path, device: str | torch.device = "cpu"):
    """An SAELens ``SAE`` from disk, decoder norms folded into the encoder (unit-norm decoder rows)."""
    from sae_lens import SAE

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sae = SAE.load_from_disk(str(folder), device=str(device))
    sae.fold_W_dec_norm()
    return sae.eval()


def train_sae_on_vectors(name: str, batches: Iterator[torch.Tensor], d_in: int, data_key: str, settings: SAESettings, saes_dir: str | Path) -> Path:
    """Train (or find) an SAE with SAELens's trainer on vectors that no language model produces (a toy
    model's hidden vectors): ``batches`` yields (settings.batch_tokens, d_in) training batches, and
    ``data_key`` names what they are (it enters the cache key with ``name``, ``d_in`` and the
    settings). The SAE is saved for inference, its activation scaling folded in; returns its folder."""
    import sae_lens
    from sae_lens.config import SAETrainerConfig

    key = cache_key(["vectors", name, d_in, dataclasses.asdict(settings), data_key, RECIPE_VERSION])
    folder = Path(saes_dir) / name / f"vectors-{key}"
    if (folder / "summary.json").exists():
        return folder
    with atomic.atomic_folder(folder) as staging:
        config = SAETrainerConfig(
            total_training_samples=settings.training_tokens,
            train_batch_size_samples=settings.batch_tokens,
            lr=settings.lr,
            lr_end=settings.lr / 10,  # as the language-model runner sets it
            lr_decay_steps=int(settings.lr_decay_fraction * settings.steps),
            logger=sae_lens.LoggingConfig(log_to_wandb=False),
            n_batches_for_norm_estimate=min(100, max(10, settings.steps // 10)),
        )
        started = time.perf_counter()
        with seeded(settings.seed), warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            sae = sae_lens.TrainingSAE.from_dict(_sae_config(settings, d_in).to_dict())
            sae_lens.SAETrainer(config, sae, data_provider=batches).fit().save_inference_model(str(staging))
        wall = time.perf_counter() - started
        summary = {"name": name, "key": key, "settings": dataclasses.asdict(settings), "data_key": data_key, "d_in": d_in, "wall_time_s": wall}
        (staging / "summary.json").write_text(json.dumps(summary, indent=2))
    return folder
