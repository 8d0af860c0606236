"""The benchmarks run end to end at a tiny size (speed itself is reported by `make bench`, not asserted)."""

from helpers.publish.bench import training_throughput, universality_engine


def test_universality_benchmark_compares_identical_maxima():
    row = universality_engine(n_latents=64, n_tokens=3000, active=4, device="cpu")["rows"][0]
    assert row["argmax_agreement"] == 1.0 and row["max_abs_difference"] < 1e-5
    assert row["ours_s"] > 0 and row["dense_s"] > 0 and row["dense_peak_mb"] >= 0


def test_training_benchmark_reports_ratios():
    row = training_throughput([64], n_layers=2, batch_size=2, n_ctx=16, d_vocab=64, steps=1, repeats=1, device="cpu")["rows"][0]
    assert row["ratio_ours_over_reference"] > 0 and row["ratio_hooked_over_reference"] > 0
    assert "mfu" not in row  # only on CUDA


def test_splice_benchmark_gives_the_same_loss_both_ways():
    from helpers.publish.bench import splice_prefix

    row = splice_prefix(n_layers=3, d_model=16, n_windows=4, n_ctx=8, d_vocab=64, repeats=1)["rows"][0]
    assert row["loss_difference"] < 1e-5 and row["speedup"] > 0


def test_toy_grid_benchmark_trains_the_same_model_both_ways():
    """One model trained alone by the batched trainer and by the plain loop (same initial weights and
    samples) ends at the same loss; the grid's steps/s are reported."""
    from helpers.publish.bench import toy_grid

    row = toy_grid(n_features=50, width=4, powers=(1.0,), seeds=(0,), steps=12, batch_size=64, repeats=1)["rows"][0]
    assert row["models"] == 2 and row["max_relative_loss_difference"] < 1e-4
    assert row["batched_steps_per_s"] > 0 and row["plain_steps_per_s"] > 0
