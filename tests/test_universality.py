"""The streaming max-correlation engine against a float64 brute force."""

import numpy as np
import pytest
import torch

from helpers.lm.family import ModelShape, to_hooked
from helpers.lm.gpt import GPT
from helpers.universality.activations import (
    activation_histograms,
    collect_activations,
    permute_windows,
    token_activations,
    top_activations,
    top_by_latent,
    write_sparse,
)
from helpers.universality.correlation import ORIGINAL_EPSILON, latent_stats, max_correlations, with_original_arithmetic


def sparse_random(rng, tokens, latents, active, dead=3):
    x = np.zeros((tokens, latents))
    for t in range(tokens):
        idx = rng.choice(latents, active, replace=False)
        x[t, idx] = rng.random(active) * rng.choice([0.5, 3.0])
    x[:, :dead] = 0
    return x.astype(np.float32).astype(np.float64)  # what float32 storage holds


def brute_force(a: np.ndarray, b: np.ndarray):
    """np.corrcoef in float64 over the dense concatenation, dead latents excluded from maxima."""
    with np.errstate(invalid="ignore", divide="ignore"):
        full = np.corrcoef(np.concatenate([a, b], axis=1).T)[: a.shape[1], a.shape[1] :]
    masked = np.where(np.isnan(full), -np.inf, full)
    out = []
    for axis in (1, 0):
        best, index = masked.max(axis=axis), masked.argmax(axis=axis)
        dead = ~np.isfinite(best)
        out += [np.where(dead, np.nan, best), np.where(dead, -1, index)]
    return out


def store(x, folder, block=700):
    return write_sparse((torch.from_numpy(x[i : i + block]) for i in range(0, len(x), block)), folder, x.shape[1])


@pytest.mark.parametrize("chunk_rows,token_block", [(50, 1000), (1024, 1 << 16), (7, 333)])
def test_matches_float64_brute_force_on_sparse_random_data(tmp_path, chunk_rows, token_block):
    rng = np.random.default_rng(0)
    a, b = sparse_random(rng, 3000, 120, 5), sparse_random(rng, 3000, 90, 4)
    b[:, 10] = 2 * a[:, 20]  # a perfect match
    result = max_correlations(store(a, tmp_path / "a"), store(b, tmp_path / "b"), chunk_bytes=8 * 90 * chunk_rows, token_block=token_block)
    ab, ab_index, ba, ba_index = brute_force(a, b)
    np.testing.assert_allclose(result.a_to_b, ab, atol=1e-6, equal_nan=True)
    np.testing.assert_allclose(result.b_to_a, ba, atol=1e-6, equal_nan=True)
    np.testing.assert_array_equal(result.a_to_b_index, ab_index)
    np.testing.assert_array_equal(result.b_to_a_index, ba_index)
    assert result.a_to_b[20] == pytest.approx(1.0) and result.a_to_b_index[20] == 10
    assert np.isnan(result.a_to_b[:3]).all() and result.stats_a.dead.sum() == 3


def test_latent_stats_by_brute_force(tmp_path):
    rng = np.random.default_rng(1)
    x = sparse_random(rng, 2000, 50, 6)
    stats = latent_stats(store(x, tmp_path / "x"), token_block=256)
    np.testing.assert_allclose(stats.max, x.max(axis=0))
    np.testing.assert_allclose(stats.mean, x.mean(axis=0), atol=1e-12)
    np.testing.assert_allclose(stats.std, x.std(axis=0), atol=1e-9)
    np.testing.assert_allclose(stats.frequency, (x > 0).mean(axis=0))
    assert stats.importance.max() == 1.0 and stats.importance[:3].tolist() == [0, 0, 0]


class ReluEncoder:
    def __init__(self, d_in, d_sae, seed):
        generator = torch.Generator().manual_seed(seed)
        self.d_sae = d_sae
        self.W = torch.randn(d_in, d_sae, generator=generator) / d_in**0.5

    def encode(self, x):  # unit-scale pre-activations shifted down: about 7% of latents fire
        return torch.relu((x / x.std()) @ self.W - 1.5)


def test_matches_brute_force_on_real_model_activations(tmp_path):
    model = GPT(ModelShape(2, 32), n_ctx=32, d_vocab=64, seed=0).eval()
    hooked = to_hooked(model)
    windows = torch.randint(0, 64, (40, 32), generator=torch.Generator().manual_seed(3))
    a = collect_activations(hooked, "blocks.1.hook_resid_pre", ReluEncoder(32, 200, 1), windows, tmp_path / "a", batch_size=7)
    b = collect_activations(hooked, "blocks.1.hook_mlp_out", ReluEncoder(32, 150, 2), windows, tmp_path / "b")
    assert a.n_tokens == 40 * 32 and 0 < a.nnz < 0.5 * a.n_tokens * 200
    result = max_correlations(a, b, chunk_bytes=8 * 150 * 64, token_block=500)
    ab, _, ba, _ = brute_force(a.dense(), b.dense())
    np.testing.assert_allclose(result.a_to_b, ab, atol=1e-6, equal_nan=True)
    np.testing.assert_allclose(result.b_to_a, ba, atol=1e-6, equal_nan=True)


def test_bad_input_and_interrupted_writes(tmp_path):
    rng = np.random.default_rng(2)
    a = store(sparse_random(rng, 100, 10, 2), tmp_path / "a")
    b = store(sparse_random(rng, 90, 10, 2), tmp_path / "b")
    with pytest.raises(ValueError, match="same tokens, got 100 and 90"):
        max_correlations(a, b)

    def broken():
        yield torch.ones(5, 10)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_sparse(broken(), tmp_path / "c", 10)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b"]


def test_storage_is_streamed_raw_and_memory_mapped(tmp_path):
    rng = np.random.default_rng(4)
    x = sparse_random(rng, 500, 20, 3)
    stored = store(x, tmp_path / "x", block=64)
    assert sorted(p.name for p in (tmp_path / "x").iterdir()) == ["indices.bin", "indptr.npy", "meta.json", "values.bin"]
    assert isinstance(stored.values, np.memmap) and stored.nnz == int((x > 0).sum())
    np.testing.assert_array_equal(stored.dense(), x)
    empty = write_sparse(iter([torch.zeros(4, 20)]), tmp_path / "empty", 20)
    assert empty.nnz == 0 and empty.n_tokens == 4 and not empty.dense().any()


def test_window_shuffle_moves_whole_windows(tmp_path):
    rng = np.random.default_rng(5)
    x = sparse_random(rng, 12 * 25, 30, 3)
    shuffled = permute_windows(store(x, tmp_path / "x"), 25, seed=7, folder=tmp_path / "p", windows_per_block=5)
    order = np.random.default_rng(7).permutation(12)
    np.testing.assert_array_equal(shuffled.dense(), x.reshape(12, 25, 30)[order].reshape(-1, 30))
    with pytest.raises(ValueError, match="context must divide"):
        permute_windows(store(x, tmp_path / "y"), 7, 0, tmp_path / "q")


def test_top_activations_by_brute_force(tmp_path):
    rng = np.random.default_rng(6)
    x = sparse_random(rng, 1000, 40, 6)
    stored = store(x, tmp_path / "x")
    for latent in (5, 17):
        positions, values = top_activations(stored, latent, 4, token_block=97)
        expected = np.argsort(-x[:, latent], kind="stable")[:4]
        np.testing.assert_array_equal(positions, expected)
        np.testing.assert_allclose(values, x[expected, latent])
    positions, values = top_activations(stored, 0, 3)  # a dead latent has no top activations
    assert len(positions) == 0 and len(values) == 0


def test_top_by_latent_matches_one_latent_at_a_time(tmp_path):
    rng = np.random.default_rng(16)
    x = sparse_random(rng, 700, 30, 5)
    x[:, 3] = 0  # a dead latent
    x[:2, 4], x[2:, 4] = 1.5, 0  # fires twice, with a tie: padded, the earlier token first
    x[10:20, 7] = 10.0  # ten ties at the top
    x[:, 9] = 0
    x[30:40, 9] = [3.0, 2.0, 0.5, 0.25, 1e-8, 2e-8, 7.0, 1e-30, 2.0, 0.125]  # magnitudes 1e-30 to 7 order as floats
    stored = store(x, tmp_path / "x")
    positions, values = top_by_latent(stored, 4)
    assert positions.shape == values.shape == (30, 4)
    for latent in range(30):
        expected_positions, expected_values = top_activations(stored, latent, 4)
        found = positions[latent] >= 0
        np.testing.assert_array_equal(positions[latent][found], expected_positions)
        np.testing.assert_allclose(values[latent][found], expected_values)
    assert positions[3].tolist() == [-1] * 4 and positions[4].tolist() == [0, 1, -1, -1]
    assert positions[7].tolist() == [10, 11, 12, 13]
    assert top_by_latent(stored, 10)[0][9].tolist() == [36, 30, 31, 38, 32, 33, 39, 35, 34, 37]  # the tie at 2.0: earlier token first


def test_activation_histograms_by_numpy(tmp_path):
    rng = np.random.default_rng(17)
    x = sparse_random(rng, 900, 25, 6)
    x[:, 2] = 0
    counts, maxima = activation_histograms(store(x, tmp_path / "x"), bins=8)
    for latent in range(25):
        fired = x[:, latent][x[:, latent] > 0]
        if not len(fired):
            assert maxima[latent] == 0 and not counts[latent].any()
            continue
        expected, _ = np.histogram(fired, bins=8, range=(0, fired.max()))
        np.testing.assert_array_equal(counts[latent], expected)
        assert maxima[latent] == pytest.approx(fired.max())


def test_precomputed_statistics_give_the_same_result(tmp_path):
    rng = np.random.default_rng(8)
    a, b = store(sparse_random(rng, 800, 40, 4), tmp_path / "a"), store(sparse_random(rng, 800, 30, 3), tmp_path / "b")
    fresh = max_correlations(a, b)
    reused = max_correlations(a, b, stats=(latent_stats(a), latent_stats(b)))
    np.testing.assert_array_equal(fresh.a_to_b, reused.a_to_b)
    np.testing.assert_array_equal(fresh.b_to_a_index, reused.b_to_a_index)


def original_arithmetic_brute_force(a: np.ndarray, b: np.ndarray, eps: float) -> np.ndarray:
    """r′_ij = (C_ij + ε)/√((M2_i + ε)(M2_j + ε)) in float64, every latent kept: (n_A, n_B)."""
    ca, cb = a - a.mean(axis=0), b - b.mean(axis=0)
    return (ca.T @ cb + eps) / np.sqrt(((ca**2).sum(axis=0)[:, None] + eps) * ((cb**2).sum(axis=0)[None, :] + eps))


def test_original_arithmetic_matches_brute_force_and_the_closed_form(tmp_path):
    rng = np.random.default_rng(9)
    a, b = sparse_random(rng, 1500, 60, 4, dead=3), sparse_random(rng, 1500, 50, 4, dead=2)
    a[:, 5] = 0
    a[7, 5] = 0.01  # near-dead: fires once, weakly
    sa, sb = store(a, tmp_path / "a"), store(b, tmp_path / "b")
    brute = original_arithmetic_brute_force(a, b, ORIGINAL_EPSILON)
    exact = max_correlations(sa, sb, epsilon=ORIGINAL_EPSILON, keep_matrix=True, chunk_bytes=8 * 50 * 7)
    np.testing.assert_allclose(exact.matrix, brute, atol=1e-6)
    np.testing.assert_allclose(exact.a_to_b, brute.max(axis=1), atol=1e-9)
    np.testing.assert_allclose(exact.b_to_a, brute.max(axis=0), atol=1e-9)
    assert exact.a_to_b[:3] == pytest.approx([1.0] * 3)  # two dead latents correlate at exactly 1
    assert exact.a_to_b[5] > 0.5  # the near-dead latent matches a dead one spuriously
    plain = max_correlations(sa, sb)
    assert np.isnan(plain.a_to_b[:3]).all()
    assert plain.matrix is None  # no matrix unless asked
    with pytest.raises(ValueError, match="keep_matrix"):
        with_original_arithmetic(plain)
    kept = max_correlations(sa, sb, keep_matrix=True)  # the pseudo-count applied afterwards, to every pair
    np.testing.assert_allclose(with_original_arithmetic(kept), brute.max(axis=1), atol=1e-6)


def test_original_arithmetic_on_weak_rarely_firing_latents(tmp_path):
    """Where M2 is comparable to ε the pseudo-count moves every pair, not only those with a dead
    latent: the exact form must follow the brute force there too."""
    rng = np.random.default_rng(11)
    a, b = sparse_random(rng, 4000, 40, 3, dead=2), sparse_random(rng, 4000, 30, 3, dead=1)
    for latent in range(5, 15):  # weak and rare: a handful of tokens, activations ~1e-3
        a[:, latent] = 0
        a[rng.choice(4000, size=3, replace=False), latent] = rng.uniform(2e-3, 8e-3, size=3)
    b[:, 4] = 0
    b[[10, 20], 4] = 5e-3
    brute = original_arithmetic_brute_force(a, b, ORIGINAL_EPSILON)
    kept = max_correlations(store(a, tmp_path / "a"), store(b, tmp_path / "b"), keep_matrix=True)
    exact = with_original_arithmetic(kept)
    np.testing.assert_allclose(exact, brute.max(axis=1), atol=1e-6)
    weak = slice(5, 15)
    assert np.nanmax(np.abs(exact[weak] - kept.a_to_b[weak])) > 1e-2  # the case discriminates: r′ is far from r here


def test_kept_matrix_is_the_correlation_matrix(tmp_path):
    rng = np.random.default_rng(10)
    a, b = sparse_random(rng, 900, 30, 3), sparse_random(rng, 900, 20, 3, dead=1)
    result = max_correlations(store(a, tmp_path / "a"), store(b, tmp_path / "b"), keep_matrix=True, chunk_bytes=8 * 20 * 4)
    with np.errstate(invalid="ignore", divide="ignore"):
        full = np.corrcoef(np.concatenate([a, b], axis=1).T)[:30, 30:]
    np.testing.assert_allclose(result.matrix, full, atol=1e-6, equal_nan=True)
    flipped = result.reversed()
    np.testing.assert_array_equal(flipped.a_to_b_index, result.b_to_a_index)
    np.testing.assert_array_equal(flipped.matrix, result.matrix.T)


def test_token_identity_dictionary(tmp_path):
    windows = torch.tensor([[3, 1, 3, 0], [2, 3, 1, 1]])
    tokens = token_activations(windows, 5, tmp_path / "tokens")
    dense = tokens.dense()
    expected = np.zeros((8, 5))
    expected[np.arange(8), windows.reshape(-1).numpy()] = 1
    np.testing.assert_array_equal(dense, expected)
    # a planted token-identity latent (fires exactly on token 3, scaled) has token-likeness 1
    planted = np.stack([expected[:, 3] * 2.5, expected[:, 1] + expected[:, 2]], axis=1)
    result = max_correlations(store(planted, tmp_path / "planted"), tokens)
    assert result.a_to_b[0] == pytest.approx(1.0) and result.a_to_b_index[0] == 3
    assert result.a_to_b[1] < 1.0
    assert np.isnan(result.b_to_a[4])  # token 4 never occurs: a dead "latent"
    with pytest.raises(ValueError, match="d_vocab"):
        token_activations(windows, 3, tmp_path / "bad")
    assert not (tmp_path / "bad").exists()


def test_shape_comparison_picks_the_shape_that_made_the_data():
    from helpers.universality.fits import aic, fit_saturating, shape_comparison

    rng = np.random.default_rng(12)
    x = rng.uniform(0, 1, 600)
    line = 0.2 + 0.3 * x + rng.normal(0, 0.02, 600)
    assert shape_comparison(x, line, fit_saturating(x, line))["best"] in ("linear", "relaxed saturating")
    assert shape_comparison(x, line, fit_saturating(x, line))["linear"] < shape_comparison(x, line, fit_saturating(x, line))["isotonic"]
    curve = 0.8 * (1 - np.exp(-6 * (x + 0.05))) + rng.normal(0, 0.02, 600)  # c < 0: outside the original's bounds
    shapes = shape_comparison(x, curve, fit_saturating(x, curve))
    assert shapes["best"] == "relaxed saturating" and shapes["relaxed saturating"] < shapes["original saturating"]
    residual = np.array([0.1, -0.1, 0.2, -0.2])
    assert aic(residual, 2) == pytest.approx(4 * np.log(0.1 / 4) + 4)
