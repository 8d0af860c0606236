"""Scaling-law formulas against hand-computed values and float64 brute force."""

import numpy as np
import pytest

from helpers.theory import scaling
from helpers.theory.scaling import BESIROGLU_2024, HOFFMANN_2022, KAPLAN_2020


def test_kaplan_loss_n_hand_values():
    assert KAPLAN_2020.loss_n(8.8e13) == pytest.approx(1.0)
    # N = N_c / 100: L = 100^0.076 = 10^0.152 = 1.419057...
    assert KAPLAN_2020.loss_n(8.8e11) == pytest.approx(1.4190575, rel=1e-7)


def test_kaplan_loss_d_hand_value():
    # D = D_c / 10: L = 10^0.095 = 1.244515...
    assert KAPLAN_2020.loss_d(5.4e12) == pytest.approx(1.2445146, rel=1e-7)


def test_kaplan_joint_law_hand_value_and_limits():
    # N = N_c/100, D = D_c: [100^(0.076/0.095) + 1]^0.095 = [10^1.6 + 1]^0.095 = 40.8107^0.095 = 1.422406
    assert KAPLAN_2020.loss(8.8e11, 5.4e13) == pytest.approx(1.4224059, rel=1e-7)
    n = np.array([1e6, 1e8, 1e10])
    assert np.allclose(KAPLAN_2020.loss(n, 1e40), KAPLAN_2020.loss_n(n), rtol=1e-12)
    assert np.allclose(KAPLAN_2020.loss(1e40, n), KAPLAN_2020.loss_d(n), rtol=1e-12)


def test_chinchilla_loss_hand_value():
    # 1.69 + 406.4/10^3.4 + 410.7/10^2.8 = 1.69 + 0.161789 + 0.650916
    assert HOFFMANN_2022.loss(1e10, 1e10) == pytest.approx(2.5027064, rel=1e-7)


@pytest.mark.parametrize("law", [HOFFMANN_2022, BESIROGLU_2024], ids=lambda law: law.name)
@pytest.mark.parametrize("flops", [1e18, 1e21, 5.76e23])
def test_compute_optimal_matches_brute_force(law, flops):
    n_opt, d_opt = law.compute_optimal(flops)
    assert 6 * n_opt * d_opt == pytest.approx(flops, rel=1e-12)
    n_grid = np.logspace(3, 15, 400_001)  # float64, step 0.00003 decades
    losses = law.loss(n_grid, flops / (6 * n_grid))
    n_brute = n_grid[np.argmin(losses)]
    assert n_opt == pytest.approx(n_brute, rel=2e-4)
    assert law.loss(n_opt, d_opt) <= losses.min() + 1e-12


def test_training_flops_and_parameter_count_hand_values():
    assert scaling.training_flops(1e9, 2e10) == pytest.approx(1.2e20)
    assert scaling.kaplan_parameter_count(8, 128) == 12 * 8 * 128**2 == 1_572_864
    assert scaling.kaplan_parameter_count(48, 1600) == pytest.approx(1.47456e9)


def test_equal_parameter_family_reproduces_the_notes_model_b():
    # Model B: twice the width at a quarter of the layers -> same N, 8x aspect ratio, half the neurons
    family = scaling.equal_parameter_family(8, 256, [8, 2])
    assert family["n_params"].to_numpy() == pytest.approx([12 * 8 * 256**2] * 2)
    assert family["d_model"].to_numpy() == pytest.approx([256, 512])
    assert family["aspect_ratio_vs_reference"].to_numpy() == pytest.approx([1, 8])
    assert family["total_neurons_vs_reference"].to_numpy() == pytest.approx([1, 0.5])


def test_fit_power_law_recovers_an_exact_law():
    n = np.logspace(6, 9, 7)
    fit = scaling.fit_power_law(n, (3.3e13 / n) ** 0.081)
    assert fit.alpha == pytest.approx(0.081, rel=1e-10)
    assert fit.n_c == pytest.approx(3.3e13, rel=1e-8)
    assert fit.r_squared == pytest.approx(1.0)
    assert fit(3.3e13) == pytest.approx(1.0)


def test_fit_power_law_reproduces_the_talks_published_law():
    # The talk's four train losses and N; it published N_c = 7.06e13, alpha = 0.0793.
    n = [1.57e6, 6.29e6, 25.2e6, 56.6e6]
    fit = scaling.fit_power_law(n, [4.061, 3.596, 3.245, 3.052])
    assert fit.alpha == pytest.approx(0.0793, abs=5e-4)
    assert fit.n_c == pytest.approx(7.06e13, rel=0.02)


def test_fit_power_law_rejects_bad_input():
    with pytest.raises(ValueError, match="at least two"):
        scaling.fit_power_law([1e6], [3.0])
    with pytest.raises(ValueError, match="equal length"):
        scaling.fit_power_law([1e6, 1e7, 1e8], [3.0, 2.9])


def test_a_flat_law_has_an_infinite_scale_and_no_warning():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fit = scaling.fit_power_law([1e5, 1e6, 1e7], [3.0, 3.0 * (1 - 1e-9), 3.0 * (1 - 2e-9)])
    assert fit.alpha == pytest.approx(0.0, abs=1e-8) and fit.n_c == float("inf")
