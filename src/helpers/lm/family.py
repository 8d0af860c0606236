"""The transformer family of the talk, as TransformerLens configurations.

Shape rule (the original nanoGPT runs): fixed depth, ``n_heads = max(min_heads, d_model // head_dim)``,
``d_mlp = 4 * d_model``, GELU, LayerNorm. Analysis always goes through a ``HookedTransformer`` so
that hook names such as ``blocks.5.hook_mlp_out`` are stable across chapters.
"""

from __future__ import annotations

import functools
import warnings
from dataclasses import dataclass

import torch

from helpers.core.parameters import ParameterError

EMBEDDING_PARAMETERS = ("embed.", "pos_embed.", "unembed.")
#: The tables' column of Kaplan et al.'s non-embedding count N = 12·L·d² (the header names the formula,
#: since the exact count of a HookedTransformer differs; :func:`non_embedding_parameters`).
N_COLUMN = "N (12·L·d²)"


def model_name(n_layers: int, d_model: int, variant: str = "") -> str:
    """A model's name in every table, folder and figure: ``L8-d128``, or ``L8-d128-seed1`` and
    ``L8-d128-random`` with a ``variant``."""
    return f"L{n_layers}-d{d_model}" + (f"-{variant}" if variant else "")


@dataclass(frozen=True)
class ModelShape:
    """Shape of one model of the family."""

    n_layers: int
    d_model: int
    head_dim: int = 64
    min_heads: int = 2

    @property
    def name(self) -> str:
        return model_name(self.n_layers, self.d_model)

    @property
    def n_heads(self) -> int:
        return max(self.min_heads, self.d_model // self.head_dim)

    @property
    def d_head(self) -> int:
        return self.d_model // self.n_heads

    @property
    def d_mlp(self) -> int:
        return 4 * self.d_model

    @property
    def aspect_ratio(self) -> float:
        """Kaplan et al.'s aspect ratio d_model / n_layer."""
        return self.d_model / self.n_layers

    def nearest_valid_widths(self) -> list[int]:
        """The closest widths below and above ``d_model`` that the head rule divides evenly."""

        def ok(w: int) -> bool:
            return w > 0 and w % ModelShape(self.n_layers, w, self.head_dim, self.min_heads).n_heads == 0

        below = next(w for w in range(self.d_model, 0, -1) if ok(w))
        above = next(w for w in range(self.d_model, 100 * self.d_model + 2) if ok(w))
        return sorted({below, above})

    def hooked_config(self, n_ctx: int, d_vocab: int, seed: int | None = None):
        """The ``HookedTransformerConfig`` of this shape."""
        from transformer_lens import HookedTransformerConfig

        return HookedTransformerConfig(
            n_layers=self.n_layers,
            d_model=self.d_model,
            n_heads=self.n_heads,
            d_head=self.d_head,
            d_mlp=self.d_mlp,
            n_ctx=n_ctx,
            d_vocab=d_vocab,
            act_fn="gelu",
            normalization_type="LN",
            positional_embedding_type="standard",
            seed=seed,
        )


def build_hooked(shape: ModelShape, n_ctx: int, d_vocab: int, device: str | torch.device = "cpu"):
    """Instantiate a ``HookedTransformer`` of ``shape`` (random weights; ``meta`` allocates none)."""
    from transformer_lens import HookedTransformer

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="HookedTransformer is deprecated", category=DeprecationWarning)
        with torch.device(device):
            return HookedTransformer(shape.hooked_config(n_ctx, d_vocab), move_to_device=False)


def non_embedding_parameters(shape: ModelShape, n_ctx: int = 1024, d_vocab: int = 50304) -> int:
    """Exact count of a HookedTransformer's parameters outside embedding, positions and unembedding.

    Counts the real module (weights, biases and LayerNorm gains) on the ``meta`` device.
    """
    model = build_hooked(shape, n_ctx, d_vocab, device="meta")
    return sum(p.numel() for name, p in model.named_parameters() if not name.startswith(EMBEDDING_PARAMETERS))


@functools.cache
def hook_names_for(n_layers: int) -> frozenset[str]:
    """Every hook name of a HookedTransformer of the family with ``n_layers`` blocks."""
    model = build_hooked(ModelShape(n_layers, 8, head_dim=4), n_ctx=4, d_vocab=4, device="meta")
    return frozenset(model.hook_dict)


def to_hooked(model, tokenizer=None, device: str | torch.device = "cpu"):
    """Convert a trained :class:`helpers.lm.gpt.GPT` into a ``HookedTransformer`` (float32, on ``device``).

    Uses TransformerLens's nanoGPT converter; no weight processing (no LayerNorm folding or
    centring), so the hooked model computes the same logits as the trained one.
    """
    from transformer_lens import HookedTransformer
    from transformer_lens.pretrained.weight_conversions import convert_nanogpt_weights

    cfg = model.shape.hooked_config(model.n_ctx, model.d_vocab)
    state = {k: v.detach().float().cpu().clone() for k, v in model.state_dict().items()}
    converted = convert_nanogpt_weights(state, cfg)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="HookedTransformer is deprecated", category=DeprecationWarning)
        hooked = HookedTransformer(cfg, tokenizer=tokenizer, move_to_device=False)
    hooked.load_and_process_state_dict(
        converted,
        fold_ln=False,
        center_writing_weights=False,
        center_unembed=False,
        fold_value_biases=False,
        refactor_factored_attn_matrices=False,
    )
    return hooked.to(device, print_details=False).eval()


def check_hook_names(name: str, hooks: list[str], n_layers: int) -> None:
    """Every hook must exist in a HookedTransformer of the family with ``n_layers`` blocks."""
    allowed = hook_names_for(n_layers)
    missing = [h for h in hooks if h not in allowed]
    if missing:
        examples = ", ".join(f"blocks.{i}.hook_resid_pre" for i in range(min(n_layers, 2)))
        raise ParameterError(
            name,
            missing if len(missing) > 1 else missing[0],
            f"hook names of a {n_layers}-layer HookedTransformer, such as {examples}, blocks.{n_layers - 1}.hook_mlp_out or hook_embed",
        )


def half_block_site(n_layers: int, relative_depth: float) -> str | None:
    """The residual-stream hook at ``relative_depth`` of an ``n_layers``-block model, in half blocks
    (attention, then MLP): ``blocks.i.hook_resid_pre`` at depth i / L, ``blocks.i.hook_resid_mid``
    at (i + ½) / L; None when the depth falls on neither."""
    halves = relative_depth * 2 * n_layers
    index = round(halves)
    if abs(halves - index) > 1e-9 or not 0 < index < 2 * n_layers:
        return None
    return f"blocks.{index // 2}.hook_resid_{'pre' if index % 2 == 0 else 'mid'}"
