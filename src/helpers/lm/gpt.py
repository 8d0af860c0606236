"""A lean GPT for training (nanoGPT's layout and parameter names, no biases, fused attention).

Training uses this module for speed; analysis converts it into a TransformerLens
``HookedTransformer`` with TransformerLens's own nanoGPT weight converter
(:func:`helpers.lm.family.to_hooked`), so every later chapter sees stable hook names.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from helpers.lm.family import ModelShape


class CausalSelfAttention(nn.Module):
    def __init__(self, shape: ModelShape) -> None:
        super().__init__()
        self.n_heads = shape.n_heads
        self.c_attn = nn.Linear(shape.d_model, 3 * shape.d_model, bias=False)
        self.c_proj = nn.Linear(shape.d_model, shape.d_model, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (batch, pos, d_model) → (batch, pos, d_model)."""
        batch, pos, d_model = x.shape
        q, k, v = self.c_attn(x).split(d_model, dim=2)
        q, k, v = (t.view(batch, pos, self.n_heads, -1).transpose(1, 2) for t in (q, k, v))
        z = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.c_proj(z.transpose(1, 2).reshape(batch, pos, d_model))


class MLP(nn.Module):
    def __init__(self, shape: ModelShape) -> None:
        super().__init__()
        self.c_fc = nn.Linear(shape.d_model, shape.d_mlp, bias=False)
        self.c_proj = nn.Linear(shape.d_mlp, shape.d_model, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.c_proj(F.gelu(self.c_fc(x)))


class Block(nn.Module):
    def __init__(self, shape: ModelShape) -> None:
        super().__init__()
        self.ln_1 = nn.LayerNorm(shape.d_model, bias=False)
        self.attn = CausalSelfAttention(shape)
        self.ln_2 = nn.LayerNorm(shape.d_model, bias=False)
        self.mlp = MLP(shape)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class GPT(nn.Module):
    """Token and position embeddings, ``n_layers`` pre-LN blocks, tied unembedding."""

    def __init__(self, shape: ModelShape, n_ctx: int, d_vocab: int, seed: int = 0) -> None:
        super().__init__()
        self.shape, self.n_ctx, self.d_vocab = shape, n_ctx, d_vocab
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.transformer = nn.ModuleDict(
                {
                    "wte": nn.Embedding(d_vocab, shape.d_model),
                    "wpe": nn.Embedding(n_ctx, shape.d_model),
                    "h": nn.ModuleList(Block(shape) for _ in range(shape.n_layers)),
                    "ln_f": nn.LayerNorm(shape.d_model, bias=False),
                }
            )
            self.lm_head = nn.Linear(shape.d_model, d_vocab, bias=False)
            self.transformer.wte.weight = self.lm_head.weight
            for name, parameter in self.named_parameters():  # GPT-2 initialisation
                if parameter.dim() == 2:
                    std = 0.02 / math.sqrt(2 * shape.n_layers) if name.endswith("c_proj.weight") else 0.02
                    nn.init.normal_(parameter, mean=0.0, std=std)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """tokens: (batch, pos) int64 → logits (batch, pos, d_vocab)."""
        positions = torch.arange(tokens.shape[1], device=tokens.device)
        x = self.transformer.wte(tokens) + self.transformer.wpe(positions)
        for block in self.transformer.h:
            x = block(x)
        return self.lm_head(self.transformer.ln_f(x))

    def loss(self, tokens: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Mean next-token cross-entropy in nats; tokens, targets: (batch, pos)."""
        return next_token_loss(self(tokens), targets)

    def non_embedding_parameters(self) -> int:
        skip = {id(self.transformer.wte.weight), id(self.transformer.wpe.weight)}
        return sum(p.numel() for p in self.parameters() if id(p) not in skip)


def next_token_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy in nats of logits (batch, pos, d_vocab) against targets (batch, pos)."""
    return F.cross_entropy(logits.float().view(-1, logits.shape[-1]), targets.reshape(-1))
