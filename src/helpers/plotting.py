"""The book's figure style, in one place."""

from __future__ import annotations

import matplotlib as mpl
import seaborn as sns

PALETTE = "colorblind"


def use_book_style() -> None:
    """Seaborn's white grid, a colour-blind-safe palette and crisp inline figures."""
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

    from helpers.superposition import SPARSE_BRANCH_START, degree_of_superposition

    inverse_density = np.logspace(np.log10(1 / (1 - SPARSE_BRANCH_START)), 4, 300)
    ax.plot(inverse_density, degree_of_superposition(1 - 1 / inverse_density), color="black", lw=1.5,
            label="bound: $-1/((1-S)\\ln(1-S))$")
    marks = [("Model A", sparsity_a, "o")] + ([("Model B needs", sparsity_b, "s")] if sparsity_b is not None else [])
    for label, s, marker in marks:
        ax.plot(1 / (1 - s), degree_of_superposition(s), marker=marker, ms=8, ls="none",
                label=f"{label}: $1-S$ = {1 - s:.2e}")
    ax.set(xscale="log", yscale="log", xlabel="$1/(1-S)$ (one active in this many inputs)",
           ylabel="features per dimension $n/m$")
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
