"""The toy model of superposition-driven scaling against closed forms and known toy-model results."""

import numpy as np
import pytest
import torch

from helpers.theory import scaling_toy as st


def test_frequencies_are_normalised_power_laws_and_exponentials():
    p = st.FrequencyFamily("power", 1.0).frequencies(4)
    harmonic = 1 + 1 / 2 + 1 / 3 + 1 / 4
    np.testing.assert_allclose(p, [1 / harmonic, 1 / (2 * harmonic), 1 / (3 * harmonic), 1 / (4 * harmonic)], rtol=1e-15)
    q = st.FrequencyFamily("exponential", 2.0).frequencies(3)
    w = np.exp(-np.array([1.0, 2.0, 3.0]) / 2)
    np.testing.assert_allclose(q, w / w.sum(), rtol=1e-15)
    assert st.FrequencyFamily("power", 0.0).frequencies(5) == pytest.approx(np.full(5, 0.2))
    with pytest.raises(ValueError, match="parameter 'kind' = 'zipf'"):
        st.FrequencyFamily("zipf", 1.0)
    with pytest.raises(ValueError, match="parameter 'value' = -1"):
        st.FrequencyFamily("exponential", -1)


def test_samples_have_the_intended_moments():
    """x_i = Bernoulli(p_i)·U(0, 2): E x_i = p_i, E x_i² = (4/3) p_i, and x_i ≤ 2."""
    p = np.array([0.5, 0.3, 0.2, 0.004])
    x = st.SparseSampler(p, 400_000, torch.Generator().manual_seed(0)).dense().double()
    assert x.shape == (400_000, 4) and float(x.max()) <= 2.0
    np.testing.assert_allclose(x.mean(0).numpy(), p, atol=3e-3)
    np.testing.assert_allclose((x**2).mean(0).numpy(), 4 / 3 * p, atol=6e-3)
    np.testing.assert_allclose((x > 0).double().mean(0).numpy(), p, atol=3e-3)
    on = (x > 0).double()
    assert abs(float(((on[:, 0] - 0.5) * (on[:, 1] - 0.3)).mean())) < 3e-3  # features independent
    x2 = st.SparseSampler(p, 400_000, torch.Generator().manual_seed(0)).dense()
    assert torch.equal(x.float(), x2)
    with pytest.raises(ValueError, match="parameter 'frequencies'"):
        st.SparseSampler(np.array([0.5, 1.0]), 4, torch.Generator())


def test_signed_decay_step_by_hand():
    """γ ≥ 0 scales the row by (1 − ηγ); γ < 0 moves its norm to ‖W‖ + ηγ(‖W‖ − 1), towards 1."""
    rows = torch.tensor([[[3.0, 4.0], [0.3, 0.4]], [[3.0, 4.0], [0.3, 0.4]]], dtype=torch.float64)  # norms 5 and 0.5
    st.signed_decay_(rows, torch.tensor([0.5, -1.0], dtype=torch.float64), lr=0.1, eps=0.0)
    np.testing.assert_allclose(rows[0].numpy(), [[2.85, 3.8], [0.285, 0.38]], rtol=1e-12)
    np.testing.assert_allclose(rows[1].norm(dim=1).numpy(), [5 - 0.1 * 4, 0.5 + 0.1 * 0.5], rtol=1e-12)
    np.testing.assert_allclose((rows[1] / rows[1].norm(dim=1, keepdim=True)).numpy(), [[0.6, 0.8], [0.6, 0.8]], rtol=1e-12)


def test_schedule_warms_up_then_decays_to_its_floor():
    assert st.learning_rate(0, 100, 10) == pytest.approx(1e-3)
    assert st.learning_rate(9, 100, 10) == pytest.approx(1e-2)
    assert st.learning_rate(10, 100, 10) == pytest.approx(1e-2)
    assert st.learning_rate(55, 100, 10) == pytest.approx(0.05e-2 + 0.95e-2 * 0.5)
    assert st.learning_rate(100, 100, 10) == pytest.approx(0.05e-2)


def test_overlap_of_random_directions_is_one_over_width():
    assert st.random_overlap(400, 16) == pytest.approx(1 / 16, rel=0.05)
    assert st.mean_squared_overlap(np.eye(5)) == 0.0
    assert np.isnan(st.mean_squared_overlap(np.zeros((4, 2))))
    w = np.array([[1.0, 0.0], [1.0, 1.0], [0.1, 0.0]])  # the third row is below ½: left out
    assert st.mean_squared_overlap(w) == pytest.approx(0.5)


def test_left_out_loss_is_the_variance_of_the_features_left_out():
    p = np.array([0.5, 0.3, 0.2])
    assert st.left_out_loss(p, 1) == pytest.approx(4 / 3 * 0.5 - 0.09 - 0.04)
    assert st.left_out_loss(p, 3) == 0.0
    x = st.SparseSampler(p, 200_000, torch.Generator().manual_seed(1)).dense().double().numpy()
    assert ((x[:, 1:] - p[1:]) ** 2).sum(1).mean() == pytest.approx(st.left_out_loss(p, 1), rel=0.02)


def test_the_two_regimes_in_a_small_model():
    """Liu et al.'s qualitative result: with γ = −1 every feature gets a direction (φ½ = 1) and the
    rows overlap like random directions (mean squared overlap ≈ 1/m); with γ = 5/9 only a few times m
    features are represented, the rest predicted by their bias, so the loss sits near the variance
    of the features left out."""
    n, m = 64, 4
    strong, weak = st.train_width(
        n,
        m,
        [st.FrequencyFamily("power", 1.0)],
        [st.STRONG_DECAY, st.WEAK_DECAY],
        [0],
        steps=1600,
        batch_size=256,
        warmup=160,
        eval_batches=10,
        progress=False,
    )
    assert st.represented_share(strong.weights) == 1.0
    assert 0.7 < st.mean_squared_overlap(strong.weights) * m < 1.5
    kept = int((st.row_norms(weak.weights) > st.REPRESENTED_NORM).sum())
    assert 1 <= kept <= 2 * m
    assert weak.loss == pytest.approx(st.left_out_loss(weak.family.frequencies(n), kept), rel=0.2)


def test_training_is_deterministic():
    args = (24, 4, [st.FrequencyFamily("exponential", 6.0)], [st.STRONG_DECAY, 0.0], [3])
    first, second = (st.train_width(*args, steps=50, batch_size=64, warmup=5, eval_batches=2, progress=False) for _ in range(2))
    assert all(np.array_equal(a.weights, b.weights) and np.array_equal(a.eval_losses, b.eval_losses) for a, b in zip(first, second))
    assert [(r.decay, r.seed) for r in first] == [(st.STRONG_DECAY, 3), (0.0, 3)]


def test_the_untrained_control_is_the_trainers_starting_point():
    """Chapter 8's untrained toy models are initial_parameters(n, m, seed): a run of zero steps returns
    exactly them, another seed draws others, and the entries have variance 1/m."""
    family = st.FrequencyFamily("power", 1.0)
    (run,) = st.train_width(300, 16, [family], [0.0], [5], steps=0, batch_size=8, warmup=1, eval_batches=1, progress=False)
    weights, biases = st.initial_parameters(300, 16, 5)
    np.testing.assert_array_equal(run.weights, weights.double().numpy())
    np.testing.assert_array_equal(run.biases, biases.double().numpy())
    assert st.initial_parameters(4000, 16, 5)[0].var().item() == pytest.approx(1 / 16, rel=0.03)  # 64,000 entries: 0.6% noise
    assert not torch.equal(weights, st.initial_parameters(300, 16, 6)[0])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_a_cuda_run_starts_where_the_cpu_run_starts_and_reaches_the_same_loss():
    """On a GPU the initial weights are the CPU's (drawn there), the samples come from the device's own
    generator, so the losses agree statistically, not bit for bit: within 5% after training."""
    args = (64, 8, [st.FrequencyFamily("power", 1.0)], [st.STRONG_DECAY, st.WEAK_DECAY], [0, 1])
    settings = dict(steps=400, batch_size=512, warmup=40, eval_batches=20, progress=False)
    on_cpu, on_gpu = (st.train_width(*args, **settings, device=d) for d in ("cpu", "cuda"))
    for a, b in zip(on_cpu, on_gpu):
        assert (a.decay, a.seed) == (b.decay, b.seed) and b.weights.shape == (64, 8)
        assert b.loss == pytest.approx(a.loss, rel=0.05)


def test_closed_form_gradients_equal_autograd_in_float64():
    """The trainer's hand-derived gradients against autograd on the same model, in float64, with
    some pre-activations below zero (the ReLU's kink) and a sparse input."""
    g = torch.Generator().manual_seed(0)
    x = torch.stack([st.SparseSampler(st.FrequencyFamily("power", a).frequencies(30), 64, g).dense() for a in (1.0, 2.0)]).double()
    weights = torch.randn(2, 30, 5, generator=g, dtype=torch.float64)
    biases = torch.randn(2, 30, generator=g, dtype=torch.float64)
    grad_w, grad_b = st.gradients(x, weights, biases)
    w, b = weights.clone().requires_grad_(True), biases.clone().requires_grad_(True)
    reference = ((st.forward(x, w, b) - x) ** 2).mean(dim=(1, 2))
    reference.sum().backward()
    assert (st.forward(x, w, b) == 0).any() and (x == 0).float().mean() > 0.9
    torch.testing.assert_close(st.losses(x, weights, biases), reference.detach() * 30, rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(grad_w, w.grad, rtol=1e-10, atol=1e-13)
    torch.testing.assert_close(grad_b, b.grad, rtol=1e-10, atol=1e-13)


def test_a_model_does_not_depend_on_the_models_sharing_its_batch():
    """Trained alone or inside a grid of other families, γ and seeds, a model sees the same samples
    from the same start, so it ends at the same weights (to float32 rounding of the batched products)."""
    family, kw = st.FrequencyFamily("power", 1.0), dict(steps=60, batch_size=64, warmup=6, eval_batches=3, progress=False)
    alone = st.train_width(40, 6, [family], [st.STRONG_DECAY], [2], **kw)[0]
    grid = st.train_width(40, 6, [st.FrequencyFamily("exponential", 5.0), family], [st.WEAK_DECAY, st.STRONG_DECAY], [1, 2], **kw)
    inside = next(r for r in grid if r.family == family and r.decay == st.STRONG_DECAY and r.seed == 2)
    np.testing.assert_allclose(inside.weights, alone.weights, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(inside.eval_losses, alone.eval_losses, rtol=1e-4)


def test_bad_grid_is_refused_before_training():
    with pytest.raises(ValueError, match="every γ within"):
        st.train_width(10, 2, [st.FrequencyFamily("power", 1.0)], [0.0, 1.5], [0], steps=1, batch_size=1, warmup=1, eval_batches=1)
    with pytest.raises(ValueError, match="parameter 'kind' = 'zipf'"):
        st.FrequencyFamily("zipf", 1.0)
    with pytest.raises(ValueError, match="parameter 'width' = 0"):
        st.train_width(10, 0, [st.FrequencyFamily("power", 1.0)], [0.0], [0], steps=1, batch_size=1, warmup=1, eval_batches=1)
    with pytest.raises(ValueError, match="at least one of each"):
        st.train_width(10, 2, [], [0.0], [0], steps=1, batch_size=1, warmup=1, eval_batches=1)


def test_width_law_recovers_exact_parameters_with_one_offset_per_group():
    from helpers.theory import scaling

    m = np.array([8.0, 16, 32, 64, 128])
    law = lambda widths, offset: 3.0 / widths**0.9 + offset  # noqa: E731
    fit = scaling.fit_width_law([(m, law(m, 0.5)), (m[1:], law(m[1:], 1.25))])
    assert fit.alpha == pytest.approx(0.9, abs=1e-7) and fit.a == pytest.approx(3.0, rel=1e-6)
    assert fit.offsets == pytest.approx((0.5, 1.25), abs=1e-7) and fit.r_squared == pytest.approx(1.0)
    assert fit.n == 9 and fit.k == 4 and fit.alpha_se < 1e-6
    noisy = law(m, 0.5) + np.array([0.01, -0.01, 0.01, -0.01, 0.01])
    one = scaling.fit_width_law([(m, noisy)])
    assert one.alpha_se > 0 and 0.5 < one.alpha < 1.5
    inverse = scaling.fit_inverse_width(m, 2.0 + 40 / m)  # α = 1 exactly: the same law as L∞ + A/d
    free = scaling.fit_width_law([(m, 2.0 + 40 / m)])
    assert free.alpha == pytest.approx(1.0, abs=1e-6) and free.offsets[0] == pytest.approx(inverse.parameters["l_inf"], abs=1e-6)
    with pytest.raises(ValueError, match="parameter 'groups'"):
        scaling.fit_width_law([(m[:1], noisy[:1])])


def test_frequency_exponent_of_exact_power_laws():
    counts = np.round(1e9 * np.arange(1, 2001, dtype=float) ** -1.3)
    fit = st.frequency_exponent(np.random.default_rng(0).permutation(np.concatenate([counts, np.zeros(50)])))
    assert fit.exponent == pytest.approx(1.3, abs=1e-3) and fit.r_squared > 0.9999
    assert fit.ranks[0] == 1 and fit.ranks[-1] == 2000 and np.all(np.diff(fit.ranks) > 0)
    curved = st.frequency_exponent(np.exp(-np.arange(1, 500) / 50) * 1e6)
    assert curved.r_squared < 0.9
    with pytest.raises(ValueError, match="parameter 'counts'"):
        st.frequency_exponent(np.array([5.0, 0.0, 0.0]))
