"""Interactive explorers (ipywidgets) for chapter 2. They compute nothing of their own: every
number comes from :mod:`helpers.theory.superposition` or from trained :class:`~helpers.theory.toy_models.ToyModels`.

Each explorer returns a widget box; its figure is an ``Image`` widget holding PNG bytes and its
numbers an ``HTML`` widget, so that both can be checked headless by setting a slider's value.
"""

from __future__ import annotations

import base64

import ipywidgets as w
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from helpers.core.numbers import readable, sci
from helpers.publish import plotting
from helpers.theory import superposition as sp
from helpers.theory.toy_models import ToyModels


class StaticFigure:
    """Mixin: the explorer's display also carries its current figure as ``image/png``, which a
    static rendering (the PDF book) shows where it cannot run the widget; pages and JupyterLab
    show the widget itself, which they rank first."""

    figure: w.Image

    def _repr_mimebundle_(self, **kwargs):
        bundle = super()._repr_mimebundle_(**kwargs)
        if self.figure.value:
            bundle["image/png"] = base64.b64encode(self.figure.value).decode("ascii")
        return bundle


class ShapeExplorer(StaticFigure, w.VBox):
    """Sliders for sparsity, width ratio, layers and feature count → Model A/B table and the bound."""

    def __init__(self, n_layer: int = 8, d_model: int = 256, width_factor: float = 2.0, sparsity: float = 0.99, n_features: float = 1e5) -> None:
        style = {"description_width": "initial"}
        self.sparsity = w.FloatSlider(
            value=sparsity, min=0.64, max=0.999, step=0.001, readout_format=".3f", description="Model A's sparsity S", style=style
        )
        self.width_factor = w.FloatSlider(value=width_factor, min=1.1, max=4.0, step=0.1, description="width ratio B/A", style=style)
        self.n_layer = w.IntSlider(value=n_layer, min=1, max=64, description="Model A's layers", style=style)
        self.n_features = w.FloatLogSlider(
            value=n_features, base=10, min=3, max=7, step=0.1, readout_format=",.0f", description="features F", style=style
        )
        self.d_model = d_model
        self.readout = w.HTML()
        self.figure = w.Image(format="png", layout=w.Layout(max_width="55%", height="auto"))
        for slider in (self.sparsity, self.width_factor, self.n_layer, self.n_features):
            slider.observe(self.update, names="value")
        super().__init__([w.HBox([self.sparsity, self.width_factor]), w.HBox([self.n_layer, self.n_features]), w.HBox([self.readout, self.figure])])
        self.update()

    def update(self, _change=None) -> None:
        a = sp.Shape(self.n_layer.value, self.d_model)
        b = sp.equal_parameter_partner(a, self.width_factor.value)
        table = sp.compare_shapes(a, b, self.n_features.value)
        s_b = float(sp.partner_sparsity(self.sparsity.value, table.loc["features per neuron", "B / A"]))
        rarer = (1 - self.sparsity.value) / (1 - s_b)
        self.readout.value = (
            table.map(readable).to_html(classes="explorer-table") + f"<p><b>Model B needs sparsity S = {s_b:.5f}</b>: its features must be active "
            f"<b>{rarer:.2f}×</b> less often than Model A's (1 − S = {sci(1 - s_b)} vs "
            f"{sci(1 - self.sparsity.value)}).</p>"
        )
        fig, ax = plt.subplots(figsize=(5, 3.6))
        plotting.draw_bound(ax, self.sparsity.value, s_b)
        self.figure.value = plotting.figure_png(fig)


class ToyModelExplorer(StaticFigure, w.VBox):
    """Pick a trained (sparsity, importance decay) instance → its WᵀW, norms and counts."""

    def __init__(self, models: ToyModels) -> None:
        self.models = models
        self.sparsity = w.SelectionSlider(options=sorted(set(models.sparsities.round(6))), description="sparsity S")
        self.decay = w.SelectionSlider(options=sorted(set(models.importance_decays.round(6))), description="importance decay")
        self.readout = w.HTML()
        self.figure = w.Image(format="png")
        for slider in (self.sparsity, self.decay):
            slider.observe(self.update, names="value")
        super().__init__([w.HBox([self.sparsity, self.decay]), self.readout, self.figure])
        self.update()

    def instance(self) -> int:
        match = np.isclose(self.models.sparsities, self.sparsity.value) & np.isclose(self.models.importance_decays, self.decay.value)
        return int(np.flatnonzero(match)[0])

    def update(self, _change=None) -> None:
        i = self.instance()
        norms = self.models.feature_norms()[i]
        self.readout.value = (
            f"<p>{self.models.represented()[i]} of {self.models.n_features} features represented "
            f"(‖W<sub>i</sub>‖ &gt; 0.5) in {self.models.n_hidden} dimensions; "
            f"D* = {self.models.dimensions_per_feature()[i]:.3f} dimensions per feature.</p>"
        )
        fig, (ax_gram, ax_norms) = plt.subplots(1, 2, figsize=(6, 3), width_ratios=[1, 0.6])
        plotting.draw_gram(ax_gram, ax_norms, self.models.gram()[i], norms, title="$W^TW$")
        self.figure.value = plotting.figure_png(fig)


class ScalingToyExplorer(StaticFigure, w.VBox):
    """Pick γ (degree of superposition), a frequency family and a width → the loss against width of
    that (family, γ) from the computed grid, with the weak regime's closed form, and the row-norm
    histogram at that width; the regime is named. Reads chapter 8's tables, computes nothing."""

    def __init__(self, toy: pd.DataFrame, norms: pd.DataFrame, exponents: pd.DataFrame) -> None:
        self.toy, self.norms, self.exponents = toy, norms, exponents
        style = {"description_width": "initial"}
        self.decay = w.SelectionSlider(options=sorted(toy.decay.unique()), description="signed decay γ", style=style)
        self.family = w.SelectionSlider(options=list(dict.fromkeys(toy.family)), description="frequencies", style=style)
        self.width = w.SelectionSlider(options=sorted(toy.m.unique()), description="width m (histogram)", style=style)
        self.readout = w.HTML()
        self.figure = w.Image(format="png")
        for slider in (self.decay, self.family, self.width):
            slider.observe(self.update, names="value")
        super().__init__([w.HBox([self.decay, self.family, self.width]), self.readout, self.figure])
        self.update()

    def update(self, _change=None) -> None:
        chosen = self.toy[(self.toy.family == self.family.value) & np.isclose(self.toy.decay, self.decay.value)]
        curve = chosen.groupby("m")[["loss", "left_out_m", "phi_half"]].mean()
        fit = self.exponents[(self.exponents.family == self.family.value) & np.isclose(self.exponents.decay, self.decay.value)].iloc[0]
        at_width = chosen[chosen.m == self.width.value]
        self.readout.value = (
            f"<p><b>{fit.regime} regime</b> (γ = {self.decay.value:g}, {self.family.value}): α<sub>m</sub> = {fit.alpha_m:.2f} "
            f"[{fit.alpha_low:.2f}, {fit.alpha_high:.2f}], R² {fit.r_squared:.3f}; the paper: {fit.paper}. At m = {self.width.value}, "
            f"φ<sub>½</sub> = {at_width.phi_half.mean():.2f}, mean squared overlap × m = {(at_width.overlap * at_width.m).mean():.2f}.</p>"
        )
        fig, (ax_loss, ax_norms) = plt.subplots(1, 2, figsize=(8, 3.2), layout="constrained")
        ax_loss.plot(curve.index, curve.loss, "o-", label="measured")
        ax_loss.plot(curve.index, curve.left_out_m, "k--", label="weak closed form, k = m")
        ax_loss.set(xscale="log", yscale="log", xlabel="width m", ylabel="loss")
        ax_loss.legend(fontsize=8)
        bars = self.norms[
            (self.norms.family == self.family.value) & np.isclose(self.norms.decay, self.decay.value) & (self.norms.m == self.width.value)
        ]
        ax_norms.bar(bars.norm_low, bars.share, width=bars.norm_high - bars.norm_low, align="edge")
        ax_norms.set(xlabel="row norm ‖W_i‖", ylabel="share of features", title=f"m = {self.width.value}")
        self.figure.value = plotting.figure_png(fig)
