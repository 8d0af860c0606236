"""The book's figure style, in one place."""

from __future__ import annotations

import matplotlib as mpl
import numpy as np
import seaborn as sns

from helpers.core.numbers import SUPERSCRIPTS

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


#: How far apart (in decades of N) rungs of the same N are drawn.
SAME_N_DODGE = 0.04


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
    when ``low``/``high`` name columns, each rung named once per axes (a second series on the same axes
    does not repeat the names), and a dashed reference line (the talk's value or a target). Rungs of
    one N (the same sizes on two corpora) sit side by side, their names one under the other."""
    import numpy as np

    n, y = ladder["widest N"].to_numpy(float), ladder[column].to_numpy(float)
    rank = ladder.groupby("widest N").cumcount().to_numpy()
    shared = ladder.groupby("widest N")["widest N"].transform("size").to_numpy()
    x = n * 10.0 ** (SAME_N_DODGE * (rank - (shared - 1) / 2))
    if low and high:
        error = np.vstack([y - ladder[low].to_numpy(float), ladder[high].to_numpy(float) - y])
        ax.errorbar(x, y, yerr=error, marker=marker, linestyle="none", capsize=4, label=label)
    else:
        ax.plot(x, y, marker=marker, linestyle="none", label=label)
    named = {t.get_text() for t in ax.texts if hasattr(t, "xy")}  # a rung already named by another series
    for xi, yi, k, rung in zip(x, y, rank, ladder.rung):
        if rung not in named:
            ax.annotate(rung, (xi, yi), textcoords="offset points", xytext=(5, 5 - 12 * k), fontsize=9)
    if reference is not None:
        ax.axhline(reference, color="0.4", linestyle="--", linewidth=1, label=reference_label)
    ax.set_xscale("log")
    ax.set_xlabel("non-embedding N of the rung's widest model")
    if len(x) == 1:  # one rung: a readable decade around it
        ax.set_xlim(x[0] / 3, x[0] * 3)


def binned_means(
    x: np.ndarray, y: np.ndarray, bins: int = 10, low: float = 0.0, high: float = 1.0, min_count: int = 5
) -> tuple[np.ndarray, np.ndarray]:
    """(bin centres, mean of ``y`` in each of ``bins`` equal bins of ``x`` on [low, high]); bins
    holding fewer than ``min_count`` points are NaN (a line drawn through them would show noise)."""
    edges = np.linspace(low, high, bins + 1)
    which = np.clip(np.digitize(x, edges) - 1, 0, bins - 1)
    sums, counts = np.bincount(which, weights=y, minlength=bins), np.bincount(which, minlength=bins)
    means = np.where(counts >= min_count, sums / np.maximum(counts, 1), np.nan)
    return (edges[:-1] + edges[1:]) / 2, means


def compact_number(value: float) -> str:
    """A tick label: plain between 0.01 and 10,000 (0.5, 2, 3,000), else mantissa × 10ᵉ (3×10⁵)."""
    if value == 0 or 1e-2 <= abs(value) < 1e4:
        return f"{value:,.6g}"
    exponent = int(np.floor(np.log10(abs(value))))
    mantissa = f"{value / 10**exponent:.2g}"
    return (f"{mantissa}×" if mantissa != "1" else "") + f"10{str(exponent).translate(SUPERSCRIPTS)}"


def log_ticks(low: float, high: float) -> list[float]:
    """Ticks for a log axis on [low, high] that spans under two decades: 1, 2 and 5 × each power of
    ten inside it, or 1, 2, 3 and 5 ×, or 1 to 9 ×, when those are fewer than two."""
    powers = range(int(np.floor(np.log10(low))), int(np.ceil(np.log10(high))) + 1)
    for subs in ((1, 2, 5), (1, 2, 3, 5), range(1, 10)):
        ticks = [m * 10.0**e for e in powers for m in subs if low <= m * 10.0**e <= high]
        if len(ticks) >= 2:
            return ticks
    return ticks


def tidy_log_ticks(figure) -> None:
    """Log axes without colliding labels: minor ticks unlabelled; an axis spanning under two decades
    (whose major ticks alone would leave it bare, and whose automatic fallback labels every integer
    multiple) gets :func:`log_ticks`, labelled in :func:`compact_number`'s form."""
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter

    for ax in figure.axes:
        for axis in (ax.xaxis, ax.yaxis):
            if axis.get_scale() != "log":
                continue
            low, high = sorted(abs(v) for v in axis.get_view_interval())
            if low > 0 and np.log10(high / low) < 2:
                axis.set_major_locator(FixedLocator(log_ticks(low, high)))
                axis.set_major_formatter(FuncFormatter(lambda value, _: compact_number(value)))
            axis.set_minor_formatter(NullFormatter())
