"""The chapters' configs and the presets: the one place that knows what each chapter accepts.

Every notebook has a ``parameters`` cell of plain literals (papermill injects overrides after it).
The next cell builds that chapter's config with ``Config.from_namespace(globals())``, which checks
every value and raises one :class:`~helpers.core.parameters.ParameterError` naming the parameter and
what is allowed, before any work starts or any file is written.

A preset (``presets/<name>.yaml``) maps each notebook to its parameters; the ``common`` block is
merged into every notebook's block. :func:`load_preset` validates a whole preset the same way.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import math
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import yaml

from helpers.core import paths
from helpers.core.parameters import (
    ParameterError,
    Parameters,
    all_of,
    check_device,
    check_preset,
    check_runs_dir,
    nonempty,
    one_of,
    param,
    positive,
    within,
)
from helpers.lm.corpus import CORPUS_FORMS, parse_corpus
from helpers.lm.family import ModelShape, check_hook_names, half_block_site
from helpers.sae.training import ARCHITECTURES as SAE_ARCHITECTURES
from helpers.theory.scaling_toy import FAMILIES as TOY_FAMILIES
from helpers.theory.superposition import SPARSE_BRANCH_START
from helpers.universality.correlation import ORIGINAL_EPSILON

C = typing.TypeVar("C", bound="ChapterConfig")


@dataclass(frozen=True)
class ChapterConfig(Parameters):
    """Parameters every chapter shares. Subclasses add their own and set ``chapter``."""

    chapter: ClassVar[str] = ""

    preset: str = param("quick", doc="name of a file in presets/; results go to runs/<preset>/")
    device: str = param("auto", doc="'auto' picks CUDA when available, else the CPU")
    seed: int = param(0, doc="seed of every random generator")
    runs_dir: str = param("", doc="folder holding runs/<preset>/ (empty: <project>/runs)")

    def validate(self) -> None:
        """Checks that need context or several fields at once."""
        super().validate()
        check_preset(self.preset)
        check_device(self.device)
        check_runs_dir(self.runs_dir)

    def chapter_config(self, config_cls: type[C]) -> C:
        """Another chapter's configuration in this preset, on this chapter's device and runs folder."""
        return config_for(self.preset, config_cls.chapter, device=self.device, runs_dir=self.runs_dir)


@dataclass(frozen=True)
class LadderParameters:
    """The parameter of the chapters that set this run beside committed results bundles."""

    bundles_dir: str = param(
        "",
        lambda v: None if not v or Path(v).is_dir() else "an existing folder, or '' for <project>/results",
        "folder of committed results bundles shown beside this run (empty: <project>/results)",
    )


@dataclass(frozen=True)
class ModelFamilyConfig(ChapterConfig):
    """The talk's family: fixed depth, several widths, heads = max(min_heads, d_model // head_dim)."""

    widths: list[int] = param([128, 256, 512, 768], all_of(nonempty, positive), "d_model of each model")
    n_layers: int = param(8, positive, "transformer blocks per model")
    head_dim: int = param(64, positive, "target size of an attention head")
    min_heads: int = param(2, positive, "fewest attention heads per layer")
    n_ctx: int = param(1024, positive, "context length in tokens")
    d_vocab: int = param(50304, positive, "vocabulary size")

    def validate(self) -> None:
        super().validate()
        for width in self.widths:
            shape = ModelShape(self.n_layers, width, self.head_dim, self.min_heads)
            if width % shape.n_heads:
                raise ParameterError(
                    "widths",
                    width,
                    f"widths divisible by their head count n_heads = max({self.min_heads}, d_model // "
                    f"{self.head_dim}); {width} gives {shape.n_heads} heads (e.g. use "
                    f"{shape.nearest_valid_widths()})",
                )

    def shapes(self) -> list[ModelShape]:
        return [ModelShape(self.n_layers, w, self.head_dim, self.min_heads) for w in self.widths]


@dataclass(frozen=True)
class ScalingLawsConfig(ModelFamilyConfig):
    """Chapter 1: scaling-law background."""

    chapter: ClassVar[str] = "01_scaling_laws"

    compute_budgets: list[float] = param([1e18, 1e19, 1e20, 1e21, 1e22, 1e23, 1e24], all_of(nonempty, positive), "training FLOPs to plan for")
    family_n_layers: int = param(8, positive, "layers of the reference shape of the equal-N family")
    family_d_model: int = param(256, positive, "width of the reference shape of the equal-N family")
    family_layers: list[int] = param([1, 2, 4, 8, 16, 32, 64], all_of(nonempty, positive), "depths in the family")
    curve_points: int = param(200, positive, "points per plotted curve")


@dataclass(frozen=True)
class SuperpositionConfig(ChapterConfig):
    """Chapter 2: the aspect-ratio / superposition argument and toy models of superposition."""

    chapter: ClassVar[str] = "02_superposition"

    reference_n_layers: int = param(8, positive, "layers of Model A")
    reference_d_model: int = param(256, positive, "width of Model A")
    width_factor: float = param(2.0, within(1, 64, high_open=False, low_open=True), "Model B's width over Model A's")
    n_features: float = param(1e5, positive, "features F learned by both models")
    sparsity_a: float = param(0.99, within(math.ceil(SPARSE_BRANCH_START * 1e4) / 1e4, 1), "sparsity of Model A's features")
    width_factors: list[float] = param([1.5, 2, 3, 4], all_of(nonempty, within(1, 64, False, True)), "small multiples")
    sparsities_a: list[float] = param([0.9, 0.99, 0.999], all_of(nonempty, within(math.ceil(SPARSE_BRANCH_START * 1e4) / 1e4, 1)), "small multiples")
    toy_features: int = param(20, positive, "features n of the importance demo")
    toy_hidden: int = param(5, positive, "hidden dimensions m of the importance demo")
    toy_sparsities: list[float] = param([0.0, 0.7, 0.9, 0.97, 0.99], all_of(nonempty, within(0, 1)), "its sparsities")
    toy_decays: list[float] = param([0.7, 0.9], all_of(nonempty, within(0, 1, False, True)), "importance decays I_i = decay^i")
    toy_steps: int = param(3000, positive, "training steps of the importance demo")
    toy_batch: int = param(512, positive, "batch size of the importance demo")
    dims_features: int = param(200, positive, "features n of the dimensions-per-feature sweep")
    dims_hidden: int = param(20, positive, "hidden dimensions m of that sweep")
    dims_inverse_densities: list[float] = param([1.5, 2, 3, 5, 8, 13, 20, 35], all_of(nonempty, within(1, 1e9)), "1/(1 − S) values")
    dims_steps: int = param(3000, positive, "training steps of that sweep")
    dims_batch: int = param(256, positive, "batch size of that sweep")
    learning_rate: float = param(3e-3, positive, "AdamW learning rate of the toy models")

    def validate(self) -> None:
        super().validate()
        if self.toy_hidden >= self.toy_features:
            raise ParameterError("toy_hidden", self.toy_hidden, f"fewer than toy_features = {self.toy_features}")
        if self.dims_hidden >= self.dims_features:
            raise ParameterError("dims_hidden", self.dims_hidden, f"fewer than dims_features = {self.dims_features}")


def pair(value: list) -> str | None:
    return None if len(value) == 2 and all(v > 0 for v in value) else "two positive numbers [n_layers, d_model]"


@dataclass(frozen=True)
class LanguageModelsConfig(ModelFamilyConfig, LadderParameters):
    """Chapter 3: corpus, tokenizer, and the width sweep of transformer language models."""

    chapter: ClassVar[str] = "03_language_models"

    corpus: str = param("stdlib", doc=CORPUS_FORMS)
    val_fraction: float = param(0.05, within(0, 1, low_open=True), "share of documents held out")
    pair_a: list[int] = param([8, 256], pair, "equal-N pair, deep shape [n_layers, d_model]")
    pair_b: list[int] = param([2, 512], pair, "equal-N pair, wide shape [n_layers, d_model]")
    seed_control_width: int = param(256, positive, "width trained a second time with control_seed")
    control_seed: int = param(1, doc="seed of the second model of seed_control_width")
    seeds_per_width: int = param(
        1,
        positive,
        "language-model seeds per family width (seed, then control_seed, control_seed + 1, …); two or more give every width its seed control",
    )
    train_tokens: int = param(2_000_000, positive, "training tokens per model")
    batch_size: int = param(16, positive, "sequences per step")
    warmup_steps: int = param(50, doc="linear warm-up steps, then cosine decay to zero")
    learning_rate: float = param(0.0, doc="peak learning rate; 0 uses Kaplan's rule for each model's N")
    eval_interval: int = param(50, positive, "steps between validation losses")
    eval_windows: int = param(64, positive, "validation windows of n_ctx tokens")
    checkpoint_interval: int = param(100, positive, "steps between checkpoints")

    def validate(self) -> None:
        super().validate()
        parse_corpus(self.corpus)
        if self.learning_rate < 0:
            raise ParameterError("learning_rate", self.learning_rate, "0 (Kaplan's rule) or a positive number")
        if self.warmup_steps < 0:
            raise ParameterError("warmup_steps", self.warmup_steps, "a number ≥ 0")
        if self.seed_control_width not in self.widths:
            raise ParameterError("seed_control_width", self.seed_control_width, f"one of widths {self.widths}")
        if self.seed in self.control_seeds:
            raise ParameterError(
                "control_seed", self.control_seed, f"a seed with control_seed … control_seed + seeds_per_width − 2 all other than seed = {self.seed}"
            )
        for name, (layers, width) in (("pair_a", self.pair_a), ("pair_b", self.pair_b)):
            shape = ModelShape(layers, width, self.head_dim, self.min_heads)
            if width % shape.n_heads:
                raise ParameterError(name, [layers, width], f"a width divisible by its {shape.n_heads} heads")
        n_a, n_b = (layers * width**2 for layers, width in (self.pair_a, self.pair_b))
        if abs(n_a / n_b - 1) > 0.01:
            raise ParameterError("pair_b", self.pair_b, f"a shape with the N of pair_a within 1% (12·L·d²: {12 * n_a:,} vs {12 * n_b:,})")
        if self.train_tokens < self.batch_size * self.n_ctx:
            raise ParameterError("train_tokens", self.train_tokens, f"at least one batch: batch_size · n_ctx = {self.batch_size * self.n_ctx}")

    @property
    def control_seeds(self) -> list[int]:
        """The seeds of every width's further models: control_seed, control_seed + 1, … (one at least:
        the seed control of seed_control_width)."""
        return [self.control_seed + k for k in range(max(self.seeds_per_width - 1, 1))]

    @property
    def family_seeds(self) -> list[int]:
        """The language-model seeds every family width is trained with, ``seed`` first."""
        return [self.seed, *self.control_seeds][: self.seeds_per_width]

    @property
    def steps(self) -> int:
        return self.train_tokens // (self.batch_size * self.n_ctx)

    @property
    def snapshot_steps(self) -> list[int]:
        """Steps at which training keeps the weights: every checkpoint before the last step."""
        return list(range(self.checkpoint_interval, self.steps, self.checkpoint_interval))


@dataclass(frozen=True)
class SAEsConfig(ChapterConfig, LadderParameters):
    """Chapter 4: sparse autoencoders on every model of chapter 3 (read from the same preset)."""

    chapter: ClassVar[str] = "04_saes"

    hooks: list[str] = param(
        ["blocks.5.hook_mlp_out", "blocks.6.hook_resid_pre"],
        nonempty,
        "hook sites of the family's models (mapped by relative depth for other depths)",
    )
    architecture: str = param("gated", one_of(*SAE_ARCHITECTURES), "SAELens architecture")
    d_sae: int = param(24576, positive, "latents per SAE")
    l1_coefficient: float = param(2.0, positive, "sparsity coefficient (gated, standard, jumprelu)")
    topk_k: int = param(32, positive, "active latents per token (topk, batchtopk)")
    sae_lr: float = param(5e-5, positive, "Adam learning rate, constant until the final decay")
    l1_warm_up_fraction: float = param(0.05, within(0, 1), "share of steps over which the coefficient warms up")
    lr_decay_fraction: float = param(0.2, within(0, 1), "final share of steps decaying the rate to a tenth")
    sae_training_tokens: int = param(1_000_000, positive, "training tokens per SAE")
    sae_context: int = param(128, positive, "tokens per window fed to the model")
    sae_batch_tokens: int = param(4096, positive, "activations per SAE training batch")
    eval_windows: int = param(64, positive, "held-out windows of sae_context tokens, the same for every model")

    def language_models(self) -> LanguageModelsConfig:
        """Chapter 3's configuration in the same preset, on this chapter's device and runs folder."""
        return self.chapter_config(LanguageModelsConfig)

    def validate(self) -> None:
        super().validate()
        models = self.language_models()
        check_hook_names("hooks", self.hooks, models.n_layers)
        if self.sae_context > models.n_ctx:
            raise ParameterError("sae_context", self.sae_context, f"at most the models' context n_ctx = {models.n_ctx}")
        if self.sae_training_tokens < self.sae_batch_tokens:
            raise ParameterError("sae_training_tokens", self.sae_training_tokens, f"at least sae_batch_tokens = {self.sae_batch_tokens}")


DEAD_LATENT_CONVENTIONS = ("exclude", "original")


@dataclass(frozen=True)
class UniversalityConfig(ChapterConfig, LadderParameters):
    """Chapter 5: importance, universality and the controls, on the SAEs of chapter 4 (same preset)."""

    chapter: ClassVar[str] = "05_universality"

    site: str = param("", doc="hook site analysed in depth: one of chapter 4's hooks ('' for its last)")
    stat_windows: int = param(512, positive, "held-out windows of sae_context tokens read by every model")
    dead_latents: str = param(
        "exclude", one_of(*DEAD_LATENT_CONVENTIONS), "latents that never fire: 'exclude' them, or the original's arithmetic ('original')"
    )
    sae_seeds: int = param(2, positive, "SAEs per model at the analysed site, each from its own seed")
    bootstrap_samples: int = param(1000, positive, "resamples for every bootstrap interval")
    keep_fractions: list[float] = param(
        [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0],
        all_of(nonempty, within(0, 1, high_open=False, low_open=True)),
        "shares of latents kept, most important first",
    )
    match_thresholds: list[float] = param(
        [0.3, 0.5, 0.7, 0.9], all_of(nonempty, within(-1, 1, high_open=False)), "correlations τ above which a latent counts as matched"
    )
    match_threshold: float = param(0.5, within(-1, 1, high_open=False), "τ for the counts and the theory check")
    fraction_draws: int = param(10, positive, "random x% subsets per share kept (the top-x% rule's random control)")
    split_draws: int = param(20, positive, "frequency-matched random subsets per width pair at match_threshold (the shared-latent split's control)")
    n_examples: int = param(3, positive, "latents shown per kind (universal, not universal)")
    example_contexts: int = param(3, positive, "top-activating contexts shown per latent")
    example_tokens: int = param(8, positive, "tokens shown before each top activation")
    browser_latents: int = param(256, positive, "latents per SAE in the latent browser (every live one when fewer), spread over importance")
    browser_contexts: int = param(6, positive, "top-activating contexts per latent in the latent browser")
    browser_tokens: int = param(24, positive, "tokens shown before each of the browser's activations (a quarter as many after)")

    def saes(self) -> SAEsConfig:
        """Chapter 4's configuration in the same preset, on this chapter's device and runs folder."""
        return self.chapter_config(SAEsConfig)

    def validate(self) -> None:
        super().validate()
        saes = self.saes()
        if self.site and self.site not in saes.hooks:
            raise ParameterError("site", self.site, "one of chapter 4's hooks in this preset: " + ", ".join(saes.hooks))
        if self.match_threshold not in self.match_thresholds:
            raise ParameterError("match_threshold", self.match_threshold, f"one of match_thresholds {self.match_thresholds}")
        if 1.0 not in self.keep_fractions:
            raise ParameterError("keep_fractions", self.keep_fractions, "shares in (0, 1] that include 1.0 (every latent)")

    @property
    def analysis_site(self) -> str:
        return self.site or self.saes().hooks[-1]

    @property
    def epsilon(self) -> float:
        """The correlation's pseudo-count: 0 (dead latents left out) or the original's ε."""
        return 0.0 if self.dead_latents == "exclude" else ORIGINAL_EPSILON


@dataclass(frozen=True)
class DynamicsConfig(ChapterConfig, LadderParameters):
    """Chapter 6: r for one pair of widths as the language models and as the SAEs train (the models,
    SAE settings, site and windows of chapters 3 to 5 in the same preset)."""

    chapter: ClassVar[str] = "06_training_dynamics"

    pair_widths: list[int] = param([], doc="two widths of chapter 3's family (empty: the two widest)")
    lm_steps: list[int] = param(
        [],
        doc="language-model steps read besides the last: 0 (initialisation) or steps at which training kept a snapshot (empty: 0 and every snapshot)",
    )
    sae_checkpoints: int = param(3, positive, "checkpoints kept while each of the pair's final SAEs trains")

    def universality(self) -> UniversalityConfig:
        """Chapter 5's configuration in the same preset, on this chapter's device and runs folder."""
        return self.chapter_config(UniversalityConfig)

    def validate(self) -> None:
        super().validate()
        saes = self.universality().saes()
        models = saes.language_models()
        if self.pair_widths and (len(set(self.pair_widths)) != 2 or not set(self.pair_widths) <= set(models.widths)):
            raise ParameterError("pair_widths", self.pair_widths, f"two different widths of chapter 3's family {models.widths}, or []")
        if any(step not in [0, *models.snapshot_steps] for step in self.lm_steps):
            raise ParameterError(
                "lm_steps",
                self.lm_steps,
                f"steps among 0 and the kept snapshots {models.snapshot_steps} (every checkpoint_interval = {models.checkpoint_interval} steps)",
            )
        if self.sae_checkpoints >= saes.sae_training_tokens // saes.sae_batch_tokens:
            raise ParameterError(
                "sae_checkpoints", self.sae_checkpoints, f"fewer than the SAEs' {saes.sae_training_tokens // saes.sae_batch_tokens} training steps"
            )

    @property
    def widths(self) -> list[int]:
        """The pair's widths, narrower first."""
        return sorted(self.pair_widths or sorted(self.universality().saes().language_models().widths)[-2:])

    @property
    def steps_read(self) -> list[int]:
        """The language-model steps read, the last (the trained model) included."""
        models = self.universality().saes().language_models()
        return sorted({*(self.lm_steps or [0, *models.snapshot_steps]), models.steps})


#: Shapes of one equal-N set may differ in 12·L·d² by at most this share of the first shape's.
EQUAL_N_TOLERANCE = 0.02


@dataclass(frozen=True)
class EqualNConfig(ChapterConfig, LadderParameters):
    """Chapter 7: the theory note's check on shapes of equal N (chapter 3's training recipe, chapter
    4's SAE recipe and chapter 5's held-out windows in the same preset)."""

    chapter: ClassVar[str] = "07_equal_n"

    shapes: list[list[int]] = param([[8, 256], [2, 512], [32, 128]], nonempty, "[n_layers, d_model] of each shape, all of equal 12·L·d² (within 2%)")
    lm_seeds: list[int] = param([0, 1], nonempty, "language-model seeds each shape is trained with (two or more)")
    relative_depth: float = param(
        0.75, within(0, 1, low_open=True), "depth of the residual-stream site read in every shape, in half blocks (attention, MLP)"
    )
    dictionary_sizes: list[int] = param([6144, 24576], all_of(nonempty, positive), "latents of the SAEs swept at each site")
    loss_tolerance: float = param(0.03, within(0, 1, low_open=True), "relative loss gap under which shapes count as trained to comparable loss")
    l1_multipliers: list[float] = param(
        [0.5, 1.0, 2.0],
        all_of(nonempty, positive),
        "multiples of chapter 4's sparsity coefficient tried at each shape's largest dictionary (first seed): sites at one explained variance",
    )

    def universality(self) -> UniversalityConfig:
        """Chapter 5's configuration in the same preset, on this chapter's device and runs folder."""
        return self.chapter_config(UniversalityConfig)

    def validate(self) -> None:
        super().validate()
        models = self.universality().saes().language_models()
        if len(self.shapes) < 2 or len({tuple(s) for s in self.shapes}) != len(self.shapes):
            raise ParameterError("shapes", self.shapes, "two or more different [n_layers, d_model] shapes")
        for layers_width in self.shapes:
            if (problem := pair(layers_width)) is not None:
                raise ParameterError("shapes", layers_width, problem)
            layers, width = layers_width
            shape = ModelShape(layers, width, models.head_dim, models.min_heads)
            if width % shape.n_heads:
                raise ParameterError("shapes", layers_width, f"a width divisible by its {shape.n_heads} heads")
            if half_block_site(layers, self.relative_depth) is None:
                raise ParameterError(
                    "relative_depth", self.relative_depth, f"a depth at a whole or half block of every shape; {layers} blocks have none there"
                )
        n = [layers * width**2 for layers, width in self.shapes]
        if max(abs(v / n[0] - 1) for v in n) > EQUAL_N_TOLERANCE:
            raise ParameterError(
                "shapes",
                self.shapes,
                f"shapes whose 12·L·d² lie within {EQUAL_N_TOLERANCE:.0%} of the first's ({', '.join(f'{12 * v:,}' for v in n)})",
            )
        if len(set(self.lm_seeds)) < 2 or len(set(self.lm_seeds)) != len(self.lm_seeds):
            raise ParameterError("lm_seeds", self.lm_seeds, "two or more different seeds")
        if len(set(self.dictionary_sizes)) != len(self.dictionary_sizes):
            raise ParameterError("dictionary_sizes", self.dictionary_sizes, "different sizes")
        if 1.0 not in self.l1_multipliers or len(set(self.l1_multipliers)) < 2 or len(set(self.l1_multipliers)) != len(self.l1_multipliers):
            raise ParameterError("l1_multipliers", self.l1_multipliers, "two or more different multipliers, 1.0 (chapter 4's coefficient) among them")

    @property
    def largest_dictionary(self) -> int:
        return max(self.dictionary_sizes)


def parse_family(text: str) -> tuple[str, float]:
    """``"power:1.5"`` → ("power", 1.5); raises ValueError naming what is allowed."""
    kind, _, value = str(text).partition(":")
    try:
        number = float(value)
    except ValueError:
        number = float("nan")
    if kind not in TOY_FAMILIES or not number >= 0 or (kind == "exponential" and number == 0):
        raise ValueError(
            f"'kind:value' with kind one of {', '.join(TOY_FAMILIES)} and value ≥ 0 (an exponential's scale > 0), e.g. 'power:1' or 'exponential:40'"
        )
    return kind, number


def families_ok(value: list) -> str | None:
    for item in value:
        try:
            parse_family(item)
        except ValueError as error:
            return f"{item!r} is not a family: {error}"
    return None if value and len(set(value)) == len(value) else "one or more different families"


@dataclass(frozen=True)
class GeometryConfig(ChapterConfig, LadderParameters):
    """Chapter 8: the geometric account of the scaling law (Liu, Liu & Gore 2025) in toy models, and
    measured in the language models of chapters 3 and 7 (read from the same preset)."""

    chapter: ClassVar[str] = "08_geometry"

    toy_features: int = param(1000, within(2, 1e7), "features n of every toy model")
    toy_widths: list[int] = param(
        [8, 11, 16, 23, 32, 45, 64, 91, 128], all_of(nonempty, positive), "hidden widths m, three or more, each below toy_features"
    )
    toy_families: list[str] = param(
        ["power:0.5", "power:1", "power:1.5", "power:2", "exponential:40"],
        families_ok,
        "feature-frequency families 'power:α' (p ∝ i^−α) or 'exponential:s' (p ∝ e^(−i/s))",
    )
    toy_decays: list[float] = param(
        [-1.0, -0.56, 0.11, 0.5556],
        all_of(nonempty, within(-1, 1, high_open=False)),
        "signed weight decays γ in [−1, 1]: ≤ −0.56 strong, ≥ 0.11 weak",
    )
    toy_seeds: list[int] = param([0, 1], nonempty, "seeds of every toy setting (initial weights and samples)")
    toy_steps: int = param(20_000, positive, "training steps of every toy model")
    toy_batch: int = param(2048, positive, "samples per step")
    toy_warmup_share: float = param(0.1, within(0, 1, high_open=True), "share of the steps spent warming the learning rate up")
    toy_eval_batches: int = param(100, positive, "fresh batches averaged for the final loss")
    bootstrap_samples: int = param(1000, positive, "resamples for every bootstrap interval")
    depth_shapes: list[list[int]] = param(
        [], doc="further [n_layers, d_model] shapes for the width–depth fit, trained with chapter 3's recipe and chapter 7's seeds"
    )
    planted_widths: list[int] = param([16, 32, 64], doc="toy widths (two or more of toy_widths) whose SAEs the talk's measurement reads")
    planted_family: str = param("power:1", doc="the toy_families entry whose models the talk's measurement reads")
    planted_d_sae: int = param(0, doc="latents of each toy SAE (0: as many as toy_features)")
    planted_k: int = param(4, positive, "active latents per sample of each toy SAE (TopK)")
    planted_lr: float = param(1e-3, positive, "Adam learning rate of the toy SAEs")
    planted_samples: int = param(1_048_576, positive, "training samples per toy SAE")
    planted_batch: int = param(1024, positive, "samples per toy-SAE training batch")
    planted_eval_samples: int = param(65_536, positive, "samples every toy width's SAE is read on (the same for every width)")
    planted_sae_seeds: int = param(2, positive, "SAE seeds per toy model (each width pair is read at every seed; two give each width a seed pair)")

    def validate(self) -> None:
        super().validate()
        models = self.chapter_config(LanguageModelsConfig)
        for layers_width in self.depth_shapes:
            problem = pair(layers_width) if isinstance(layers_width, list) else "a list [n_layers, d_model]"
            if problem is None:
                shape = ModelShape(layers_width[0], layers_width[1], models.head_dim, models.min_heads)
                problem = None if layers_width[1] % shape.n_heads == 0 else f"a width divisible by its {shape.n_heads} heads"
            if problem is not None:
                raise ParameterError("depth_shapes", layers_width, problem)
        if len(set(self.toy_widths)) < 3 or len(set(self.toy_widths)) != len(self.toy_widths) or max(self.toy_widths) >= self.toy_features:
            raise ParameterError("toy_widths", self.toy_widths, f"three or more different widths, each below toy_features = {self.toy_features}")
        if len(set(self.toy_seeds)) != len(self.toy_seeds):
            raise ParameterError("toy_seeds", self.toy_seeds, "different seeds")
        if len(set(self.planted_widths)) < 2 or not set(self.planted_widths) <= set(self.toy_widths):
            raise ParameterError("planted_widths", self.planted_widths, f"two or more different widths of toy_widths {self.toy_widths}")
        if self.planted_family not in self.toy_families:
            raise ParameterError("planted_family", self.planted_family, f"one of toy_families {self.toy_families}")
        if self.planted_d_sae < 0 or self.planted_k >= (self.planted_d_sae or self.toy_features):
            raise ParameterError("planted_d_sae", self.planted_d_sae, f"0 (toy_features) or a size > 0, above planted_k = {self.planted_k}")
        if self.planted_samples < self.planted_batch:
            raise ParameterError("planted_samples", self.planted_samples, f"at least one batch of planted_batch = {self.planted_batch}")
        self.chapter_config(EqualNConfig)

    @property
    def families(self) -> list[tuple[str, float]]:
        return [parse_family(f) for f in self.toy_families]


@dataclass(frozen=True)
class CountingConfig(ChapterConfig, LadderParameters):
    """Chapter 9: how many latents each width needs (TopK dictionary-size sweeps at chapter 5's site of
    every model of chapter 3's family and its seed controls, evaluated on chapter 4's windows)."""

    chapter: ClassVar[str] = "09_counting"

    architecture: str = param("topk", one_of("topk", "batchtopk"), "SAELens architecture with a fixed number k of active latents")
    k: int = param(32, positive, "active latents per token of every swept SAE")
    second_k: int = param(0, doc="a second k swept at every size with the first SAE seed, on each width's first language-model seed (0: none)")
    dictionary_sizes: list[int] = param([3072, 6144, 12288, 24576], all_of(nonempty, positive), "latents n of the swept SAEs, three or more")
    sae_seeds: int = param(2, positive, "SAE seeds at the largest size (their spread is the band every n* carries)")
    sae_lr: float = param(2e-4, positive, "Adam learning rate of the swept SAEs (constant, then chapter 4's final decay)")
    sae_training_tokens: int = param(1_000_000, positive, "training tokens per swept SAE")
    nmse_target: float = param(0.1, within(0, 1, low_open=True), "normalised MSE at which n* is read")
    delta_ce_target: float = param(0.1, positive, "spliced-loss increase over the clean model (nats) at which n* is read")

    def validate(self) -> None:
        super().validate()
        sizes = self.dictionary_sizes
        if len(set(sizes)) < 3 or len(set(sizes)) != len(sizes):
            raise ParameterError("dictionary_sizes", sizes, "three or more different sizes")
        if self.k >= min(sizes):
            raise ParameterError("k", self.k, f"fewer active latents than the smallest dictionary ({min(sizes)})")
        if self.second_k < 0 or self.second_k == self.k or self.second_k >= min(sizes):
            raise ParameterError("second_k", self.second_k, f"0 (none) or a k other than {self.k} below the smallest dictionary ({min(sizes)})")
        saes = self.chapter_config(SAEsConfig)
        if self.sae_training_tokens < saes.sae_batch_tokens:
            raise ParameterError("sae_training_tokens", self.sae_training_tokens, f"at least one batch of chapter 4's {saes.sae_batch_tokens} tokens")

    @property
    def ks(self) -> list[int]:
        return [self.k] + ([self.second_k] if self.second_k else [])


@dataclass(frozen=True)
class DiscussionConfig(ChapterConfig, LadderParameters):
    """Chapter 10: reads the results of chapters 1 to 9 in the same preset; no parameters of its own."""

    chapter: ClassVar[str] = "10_discussion"


CONFIGS: dict[str, type[ChapterConfig]] = {
    c.chapter: c
    for c in (
        ScalingLawsConfig,
        SuperpositionConfig,
        LanguageModelsConfig,
        SAEsConfig,
        UniversalityConfig,
        DynamicsConfig,
        EqualNConfig,
        GeometryConfig,
        CountingConfig,
        DiscussionConfig,
    )
}


# --------------------------------------------------------------------------------------------
# Presets.


@functools.lru_cache(maxsize=64)
def _parsed(path: Path, modified_ns: int, size: int) -> Any:
    """A preset file's YAML, parsed once per version of the file (its modification time and size)."""
    return yaml.safe_load(path.read_text()) or {}


def read_preset(name: str) -> Any:
    """``presets/<name>.yaml`` as parsed YAML (a fresh copy: callers may change it). Cross-chapter
    lookups read a preset many times; it is parsed again only when the file changes."""
    check_preset(name)
    path = paths.presets_dir() / f"{name}.yaml"
    stat = path.stat()
    return copy.deepcopy(_parsed(path, stat.st_mtime_ns, stat.st_size))


def preset_block(name: str, chapter: str) -> dict[str, Any]:
    """One chapter's parameters in preset ``name`` (its block over the shared ``common`` keys), unvalidated."""
    raw = read_preset(name)
    fields = {f.name for f in dataclasses.fields(CONFIGS[chapter])}
    shared = {k: v for k, v in (raw.get("common") or {}).items() if k in fields}
    return {**shared, **(raw.get(chapter) or {}), "preset": name}


def config_for(preset: str, chapter: str, **overrides: Any) -> Any:
    """``chapter``'s validated configuration in ``preset``; ``overrides`` (``runs_dir``, ``device``)
    replace the preset's values."""
    return CONFIGS[chapter].from_params(**{**preset_block(preset, chapter), **overrides})


def load_preset(name: str) -> dict[str, dict[str, Any]]:
    """Read ``presets/<name>.yaml`` and return each notebook's full parameters, all validated.

    Each ``common`` key is merged under the block of every notebook that has that parameter (a key
    no chapter knows is an error), and ``preset`` is set to ``name``.
    """
    raw = read_preset(name)
    path = paths.presets_dir() / f"{name}.yaml"
    if not isinstance(raw, dict):
        raise ParameterError("preset", name, f"a YAML mapping of notebook names in {path}")
    common = raw.pop("common", {}) or {}
    unknown = sorted(set(raw) - set(CONFIGS))
    if unknown:
        raise ParameterError(f"{path.name}: notebook", unknown[0], "one of 'common', " + ", ".join(map(repr, CONFIGS)))
    known = set().union(*({f.name for f in dataclasses.fields(cls)} for cls in CONFIGS.values()))
    orphans = sorted(set(common) - known)
    if orphans:
        raise ParameterError(f"{path.name}: common.{orphans[0]}", common[orphans[0]], "a parameter of at least one chapter")
    for chapter in CONFIGS:
        config_for(name, chapter)
    return {chapter: preset_block(name, chapter) for chapter in CONFIGS}
