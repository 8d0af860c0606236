"""The explorers respond headless: moving a slider changes the numbers shown and the figure."""

import re

import numpy as np
import pytest

from helpers.publish.widgets import ShapeExplorer, ToyModelExplorer
from helpers.theory import superposition as sp
from helpers.theory.toy_models import train_toy_models


def required_sparsity_shown(explorer: ShapeExplorer) -> float:
    return float(re.search(r"Model B needs sparsity S = ([0-9.]+)", explorer.readout.value)[1])


def test_shape_explorer_follows_every_slider():
    explorer = ShapeExplorer(n_layer=8, d_model=256, width_factor=2.0, sparsity=0.99)
    assert required_sparsity_shown(explorer) == pytest.approx(sp.partner_sparsity(0.99, 2), abs=1e-5)
    for slider, value in [(explorer.sparsity, 0.9), (explorer.width_factor, 3.0)]:
        text, image = explorer.readout.value, bytes(explorer.figure.value)
        slider.value = value
        assert explorer.readout.value != text and bytes(explorer.figure.value) != image
    assert required_sparsity_shown(explorer) == pytest.approx(sp.partner_sparsity(0.9, 3), abs=1e-5)
    for slider, value, row in [(explorer.n_layer, 16, "layers"), (explorer.n_features, 1e6, "features per layer")]:
        text = explorer.readout.value  # the table changes; the ratios, hence the required sparsity, do not
        slider.value = value
        assert explorer.readout.value != text and row in explorer.readout.value
        assert required_sparsity_shown(explorer) == pytest.approx(sp.partner_sparsity(0.9, 3), abs=1e-5)


def test_toy_explorer_shows_the_chosen_instance():
    models = train_toy_models(8, 3, [0.0, 0.95], [0.7, 1.0], steps=200, batch_size=128, lr=3e-3, progress=False)
    explorer = ToyModelExplorer(models)
    shown = []
    for sparsity in (0.0, 0.95):
        explorer.sparsity.value = sparsity
        i = explorer.instance()
        assert models.sparsities[i] == pytest.approx(sparsity)
        assert f"{models.represented()[i]} of 8 features represented" in explorer.readout.value
        shown.append(bytes(explorer.figure.value))
    assert shown[0] != shown[1]
    image = bytes(explorer.figure.value)
    explorer.decay.value = 1.0
    assert bytes(explorer.figure.value) != image


def test_explorer_display_carries_its_current_figure_for_static_renderings():
    import base64

    from helpers.publish.widgets import ShapeExplorer

    explorer = ShapeExplorer()
    before = explorer._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in before
    assert base64.b64decode(before["image/png"]) == explorer.figure.value
    explorer.sparsity.value = 0.9  # a slider moved: the static figure follows
    assert explorer._repr_mimebundle_()["image/png"] != before["image/png"]


def test_scaling_toy_explorer_follows_its_sliders():
    from helpers.chapters import geometry
    from helpers.publish.widgets import ScalingToyExplorer
    from helpers.theory import scaling_toy as st

    families = [st.FrequencyFamily("power", 1.0), st.FrequencyFamily("power", 2.0)]
    runs = [
        r
        for m in (2, 4, 8)
        for r in st.train_width(
            24, m, families, [st.STRONG_DECAY, st.WEAK_DECAY], [0], steps=30, batch_size=32, warmup=3, eval_batches=2, progress=False
        )
    ]
    toy, norms = geometry.toy_rows(runs, 24), geometry.norm_histograms(runs, np.linspace(0, 2, 11))
    exponents = (
        toy.groupby(["family", "decay"], sort=False)
        .loss.mean()
        .reset_index()
        .assign(regime=lambda t: t.decay.map(geometry.regime), alpha_m=1.0, alpha_low=0.9, alpha_high=1.1, r_squared=0.99, paper="≈ 1")
    )
    explorer = ScalingToyExplorer(toy, norms, exponents)
    assert "strong regime" in explorer.readout.value
    image = bytes(explorer.figure.value)
    explorer.decay.value = st.WEAK_DECAY
    assert "weak regime" in explorer.readout.value and bytes(explorer.figure.value) != image
    image = bytes(explorer.figure.value)
    explorer.width.value = 8
    assert "At m = 8" in explorer.readout.value and bytes(explorer.figure.value) != image
