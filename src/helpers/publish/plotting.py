"""The book's figure style, in one place."""

from __future__ import annotations

import matplotlib as mpl
import seaborn as sns

PALETTE = "colorblind"


def use_book_style() -> None:
    """Seaborn's white grid, a colour-blind-safe palette and crisp inline figures; in a kernel,
    each figure is kept as a double-resolution PNG (the pages) and as vector PDF (the PDF book)."""
    sns.set_theme(context="notebook", style="whitegrid", palette=PALETTE)
    mpl.rcParams.update(
        {
            "figure.dpi": 110,
            "savefig.dpi": 150,
            "figure.figsize": (7.0, 4.2),
            "axes.titleweight": "bold",
            "axes.spines.top": False,
            "axes.spines.right": False,
        }
    )
    from IPython import get_ipython

    if get_ipython() is not None:
        from matplotlib_inline.backend_inline import set_matplotlib_formats

        set_matplotlib_formats("retina", "pdf")  # PNG at twice the resolution (sharp on every screen), vector for the PDF


def figure_png(fig) -> bytes:
    """Render a figure to PNG bytes (for image widgets) and close it."""
    import io

    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", bbox_inches="tight")
    plt.close(fig)
    return buffer.getvalue()


def draw_bound(ax, sparsity_a: float, sparsity_b: float | None = None) -> None:
    """The compressed-sensing degree of superposition against 1/(1 − S), Model A (and B) marked."""
    import numpy as np

    from helpers.theory.superposition import SPARSE_BRANCH_START, degree_of_superposition

    inverse_density = np.logspace(np.log10(1 / (1 - SPARSE_BRANCH_START)), 4, 300)
    ax.plot(inverse_density, degree_of_superposition(1 - 1 / inverse_density), color="black", lw=1.5, label="bound: $-1/((1-S)\\ln(1-S))$")
    marks = [("Model A", sparsity_a, "o")] + ([("Model B needs", sparsity_b, "s")] if sparsity_b is not None else [])
    for label, s, marker in marks:
        ax.plot(1 / (1 - s), degree_of_superposition(s), marker=marker, ms=8, ls="none", label=f"{label}: $1-S$ = {1 - s:.2e}")
    ax.set(xscale="log", yscale="log", xlabel="$1/(1-S)$ (one active in this many inputs)", ylabel="features per dimension $n/m$")
    ax.legend(fontsize=8, loc="upper left")


def draw_gram(ax_gram, ax_norms, gram, norms, title: str = "") -> None:
    """WᵀW as a red-blue heat map and the feature norms ‖W_i‖ as bars (Elhage et al.'s figure)."""
    import numpy as np

    limit = max(float(np.abs(gram).max()), 1e-6)
    ax_gram.imshow(gram, cmap="RdBu", vmin=-limit, vmax=limit)
    ax_gram.set(xticks=[], yticks=[], title=title)
    ax_gram.grid(False)
    ax_norms.barh(np.arange(len(norms)), norms, color=["#0072B2" if n > 0.5 else "#BBBBBB" for n in norms])
    ax_norms.invert_yaxis()
    ax_norms.set(yticks=[], xlim=(0, max(1.2, float(norms.max()) * 1.05)), xlabel="$\\|W_i\\|$")


def draw_ladder(
    ax,
    ladder,
    column: str,
    label: str,
    low: str | None = None,
    high: str | None = None,
    reference: float | None = None,
    reference_label: str = "",
    marker: str = "o",
) -> None:
    """One measurement against scale: a point per rung at its widest model's N (log x), an interval
    when ``low``/``high`` name columns, each rung named, and a dashed reference line (the talk's value
    or a target)."""
    import numpy as np

    x, y = ladder["widest N"].to_numpy(float), ladder[column].to_numpy(float)
    if low and high:
        error = np.vstack([y - ladder[low].to_numpy(float), ladder[high].to_numpy(float) - y])
        ax.errorbar(x, y, yerr=error, marker=marker, capsize=4, label=label)
    else:
        ax.plot(x, y, marker=marker, label=label)
    for xi, yi, rung in zip(x, y, ladder.rung):
        ax.annotate(rung, (xi, yi), textcoords="offset points", xytext=(5, 5), fontsize=8)
    if reference is not None:
        ax.axhline(reference, color="0.4", linestyle="--", linewidth=1, label=reference_label)
    ax.set_xscale("log")
    ax.set_xlabel("non-embedding N of the rung's widest model")
    if len(x) == 1:  # one rung: a readable decade around it
        ax.set_xlim(x[0] / 3, x[0] * 3)
