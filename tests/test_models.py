"""The model family's shape rule and exact parameter counts against hand-derived formulas."""

import pytest

from helpers.lm.family import ModelShape, hook_names_for, non_embedding_parameters


def hand_count(n_layers: int, d: int) -> int:
    # Per layer: W_Q, W_K, W_V, W_O (4d²) + b_Q, b_K, b_V (3d) + b_O (d)
    #          + W_in, W_out (8d²) + b_in (4d) + b_out (d) + two LayerNorms (4d) = 12d² + 13d.
    # After the last layer: one LayerNorm (2d).
    return n_layers * (12 * d * d + 13 * d) + 2 * d


@pytest.mark.parametrize("d_model,heads", [(64, 2), (128, 2), (256, 4), (512, 8), (768, 12)])
def test_head_rule_of_the_original_runs(d_model, heads):
    shape = ModelShape(8, d_model)
    assert shape.n_heads == heads
    assert shape.n_heads * shape.d_head == d_model
    assert shape.d_mlp == 4 * d_model


@pytest.mark.parametrize("n_layers,d_model", [(8, 128), (8, 256), (2, 64), (8, 768)])
def test_exact_non_embedding_count_matches_hand_formula(n_layers, d_model):
    assert non_embedding_parameters(ModelShape(n_layers, d_model), n_ctx=32, d_vocab=100) == hand_count(n_layers, d_model)


def test_count_excludes_embeddings():
    shape = ModelShape(2, 64)
    assert non_embedding_parameters(shape, 32, 100) == non_embedding_parameters(shape, 1024, 50304)


def test_hook_names_hold_both_sites_of_the_talk():
    hooks = hook_names_for(8)
    assert {"blocks.5.hook_mlp_out", "blocks.6.hook_resid_pre", "hook_embed"} <= hooks
    assert "blocks.8.hook_resid_pre" not in hooks


def test_nearest_valid_widths_are_valid():
    shape = ModelShape(8, 200)
    assert 200 % shape.n_heads != 0
    for width in shape.nearest_valid_widths():
        assert width % ModelShape(8, width).n_heads == 0
