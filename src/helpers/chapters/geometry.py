"""Chapter 8's measurements: the toy models of superposition-driven scaling (Liu, Liu & Gore 2025)
over widths, frequency families and degrees of superposition; the token geometry of the book's
language models; and their loss against width and depth, as the geometric account writes it.

Rules that turn these into verdicts are here too, each stating the result that would have failed it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from helpers.chapters.configs import EqualNConfig, GeometryConfig, LanguageModelsConfig
from helpers.chapters.model_suite import PlannedModel
from helpers.core import atomic, paths
from helpers.core.keys import cache_key
from helpers.lm.family import ModelShape, model_name
from helpers.theory import scaling_toy as st
from helpers.theory.scaling import fit_width_law, slope_with_interval
from helpers.theory.width_depth import EXPONENT_BOUNDS, fit_width_depth, leave_one_out, valley

#: The paper's regimes: γ ≤ −0.56 is strong superposition at every width, γ ≥ +0.11 weak.
STRONG_BELOW, WEAK_ABOVE = -0.56, 0.11
#: A fit of log L on log m below this R² is not read as a power law.
POWER_LAW_R2 = 0.95
#: A token's embedding row counts as "well above zero" above this share of the mean norm of the
#: m largest rows (the rows a weak-regime model would keep, at their typical norm): the toy's φ½ in
#: relative units. A lower share (0.1) fails the calibration on the toy itself: rows the weak regime
#: drops decay slowly and still sit near 0.1–0.2 of the kept rows' norm after a short run.
WELL_ABOVE = 0.5
#: The geometric account's width exponent: 0.91 ± 0.04 in open language models, ≈ 1 (0.9–1.1) in
#: the toy's strong regime; their union is the band a language-model family must meet.
INTERFERENCE_BAND = (0.87, 1.1)
#: Published exponents of loss against width: 27 open language models, and Chinchilla reread.
LLM_ALPHA_M, CHINCHILLA_ALPHA_M = (0.91, 0.04), (0.88, 0.06)
#: The depth paper's exponent of depth and its best width over depth (Chinchilla refit).
DEPTH_ALPHA_L, DEPTH_BEST_RATIO = (1.2, 0.3), (60.0, 70.0)


# --------------------------------------------------------------------------------------------
# The language models this chapter adds: further depths for the width–depth fit.


def plan(cfg: GeometryConfig) -> list[PlannedModel]:
    """Every (depth shape, seed) of ``depth_shapes`` with chapter 7's seeds, named as chapter 3 names its models."""
    lm, seeds = cfg.chapter_config(LanguageModelsConfig), cfg.chapter_config(EqualNConfig).lm_seeds
    return [
        PlannedModel(
            model_name(layers, width, "" if seed == lm.seed else f"seed{seed}"),
            "width-depth",
            ModelShape(layers, width, lm.head_dim, lm.min_heads),
            seed,
        )
        for layers, width in cfg.depth_shapes
        for seed in seeds
    ]


# --------------------------------------------------------------------------------------------
# The toy grid.


def families(cfg: GeometryConfig) -> list[st.FrequencyFamily]:
    return [st.FrequencyFamily(kind, value) for kind, value in cfg.families]


def regime(decay: float) -> str:
    return "strong" if decay <= STRONG_BELOW else "weak" if decay >= WEAK_ABOVE else "between"


def toy_width(cfg: GeometryConfig, width: int, steps: int, seeds: list[int]) -> list[st.ToyRun]:
    """Every (family, γ, seed) model of one width, trained once and then read from the cache."""
    settings = {
        "n": cfg.toy_features,
        "m": width,
        "families": [dataclasses.asdict(f) for f in families(cfg)],
        "decays": cfg.toy_decays,
        "seeds": seeds,
        "steps": steps,
        "batch": cfg.toy_batch,
        "warmup": round(cfg.toy_warmup_share * steps),
        "eval_batches": cfg.toy_eval_batches,
        "trainer": 4,  # the version of the trainer's numerics: a change retrains the grid
    }
    folder = paths.cache_dir(cfg.runs_dir or None) / "toy" / f"m{width}-{cache_key(settings)}"
    grid = [(f, g, s) for f in families(cfg) for g in cfg.toy_decays for s in seeds]
    if (folder / "runs.npz").exists():
        saved = np.load(folder / "runs.npz")
        return [
            st.ToyRun(width, f, float(g), int(s), saved["weights"][k].astype(np.float64), saved["biases"][k], saved["eval_losses"][k])
            for k, (f, g, s) in enumerate(grid)
        ]
    torch.manual_seed(0)
    runs = st.train_width(
        cfg.toy_features, width, families(cfg), cfg.toy_decays, seeds, steps, cfg.toy_batch, settings["warmup"], cfg.toy_eval_batches, device="cpu"
    )
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {
        "weights": np.stack([r.weights for r in runs]).astype(np.float32),
        "biases": np.stack([r.biases for r in runs]),
        "eval_losses": np.stack([r.eval_losses for r in runs]),
    }
    with atomic.atomic_path(folder / "runs.npz") as temporary, open(temporary, "wb") as handle:
        np.savez(handle, **arrays)
    atomic.write_json(folder / "settings.json", settings)
    return [dataclasses.replace(r, weights=arrays["weights"][k].astype(np.float64)) for k, r in enumerate(runs)]


def toy_rows(runs: Iterable[st.ToyRun], n_features: int) -> pd.DataFrame:
    """One row per trained toy model: its loss, φ½, φ₁, mean squared overlap of its represented rows
    against random directions, and the weak regime's closed form at k = its represented rows and at k = m."""
    rows = []
    for r in runs:
        p = r.family.frequencies(n_features)
        kept = int((st.row_norms(r.weights) > st.REPRESENTED_NORM).sum())
        rows.append(
            {
                "m": r.width,
                "family": r.family.label,
                "decay": r.decay,
                "regime": regime(r.decay),
                "seed": r.seed,
                "loss": r.loss,
                "phi_half": st.represented_share(r.weights),
                "phi_one": st.represented_share(r.weights, st.STRONG_NORM),
                "overlap": st.mean_squared_overlap(r.weights),
                "random_overlap": st.random_overlap(max(kept, 2), r.width, seed=r.seed),
                "left_out_kept": st.left_out_loss(p, kept),
                "left_out_m": st.left_out_loss(p, r.width),
            }
        )
    return pd.DataFrame(rows)


def norm_histograms(runs: Iterable[st.ToyRun], bins: np.ndarray) -> pd.DataFrame:
    """Row-norm histograms (share of features per bin) of the first seed's models, long form."""
    rows = []
    first = {}
    for r in runs:
        first.setdefault((r.width, r.family.label, r.decay), r)
    for (m, family, decay), r in first.items():
        counts, _ = np.histogram(np.clip(st.row_norms(r.weights), bins[0], bins[-1]), bins=bins)
        for low, high, c in zip(bins[:-1], bins[1:], counts / counts.sum()):
            rows.append({"m": m, "family": family, "decay": decay, "norm_low": low, "norm_high": high, "share": c})
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class Exponent:
    """α_m of one (family, γ): −slope of log L on log m, its bootstrap interval, R², and the local
    exponents of the narrower and the wider half of the widths (each with an interval)."""

    alpha: float
    low: float
    high: float
    r_squared: float
    lower_half: tuple[float, float, float]
    upper_half: tuple[float, float, float]


def _slope(log_m: np.ndarray, log_l: np.ndarray) -> float:
    return float(-np.polyfit(log_m, log_l, 1)[0])


def exponent(widths: np.ndarray, losses: dict[int, np.ndarray], samples: int, seed: int = 0) -> Exponent:
    """α_m from per-width eval losses ``losses[m]`` (seeds × batches). The interval resamples, per
    width and independently, seeds and then each seed's batches (the training and the evaluation
    noise), 95% percentile."""
    widths = np.asarray(sorted(widths))
    log_m = np.log(widths)
    point = np.array([losses[m].mean() for m in widths])
    middle = len(widths) // 2
    halves = (slice(0, middle + 1), slice(middle, None))
    rng = np.random.default_rng(seed)
    draws = np.empty((samples, 3))
    for b in range(samples):
        means = []
        for m in widths:
            table = losses[m]
            chosen = table[rng.integers(len(table), size=len(table))]
            means.append(np.take_along_axis(chosen, rng.integers(chosen.shape[1], size=chosen.shape), axis=1).mean())
        log_l = np.log(means)
        draws[b] = [_slope(log_m, log_l), *(_slope(log_m[h], log_l[h]) for h in halves)]
    low, high = np.percentile(draws, [2.5, 97.5], axis=0)
    log_point = np.log(point)
    alpha = _slope(log_m, log_point)
    residual = log_point - np.polyval(np.polyfit(log_m, log_point, 1), log_m)
    r2 = float(1 - residual @ residual / ((log_point - log_point.mean()) @ (log_point - log_point.mean())))
    halves_point = [_slope(log_m[h], log_point[h]) for h in halves]
    return Exponent(alpha, float(low[0]), float(high[0]), r2, (halves_point[0], low[1], high[1]), (halves_point[1], low[2], high[2]))


def paper_expectation(family: st.FrequencyFamily, decay: float) -> tuple[str, float, float] | None:
    """What Liu, Liu & Gore report for α_m: (text, low, high) of the band a measurement must meet, or
    ``(text, nan, nan)`` for "no power law" (weak regime, α ≤ 1); None between the regimes."""
    kind = regime(decay)
    if kind == "strong":
        if family.kind == "power" and family.value >= 1.5:
            centre = 2 * (family.value - 1)
            return (f"tends to 2(α − 1) = {centre:g}", centre - 0.2, centre + 0.2)
        return ("≈ 1", 0.9, 1.1)
    if kind == "weak":
        if family.kind == "power" and family.value > 1:
            return (f"α − 1 = {family.value - 1:g}", family.value - 1 - 0.1, family.value - 1 + 0.1)
        if family.kind == "power":
            return ("no power law (the loss bends down)", float("nan"), float("nan"))
        return ("faster than any power (exponential tail)", float("nan"), float("nan"))
    return None


def exponent_verdict(expected: tuple[str, float, float] | None, fit: Exponent, shift: float) -> tuple[str, str]:
    """(verdict, reason) for one (family, γ). Inconclusive when the doubled-steps check moves α_m by
    more than its interval's half-width (not converged), or a power law is expected and R² < 0.95.
    A band: reproduced when the interval meets it, not reproduced when it misses it. "No power law":
    reproduced when the wider half's local exponent lies above the narrower half's (intervals apart),
    not reproduced when the fit is a clean power law (R² ≥ 0.99) with overlapping local exponents."""
    if expected is None:
        return "not judged", "between the regimes: the paper makes no prediction"
    half = max((fit.high - fit.low) / 2, 0.05)
    if abs(shift) > half:
        return "inconclusive", f"not converged: doubling the steps at the largest m moves α_m by {shift:+.2f}"
    text, low, high = expected
    if np.isnan(low):
        lower, upper = fit.lower_half, fit.upper_half
        if upper[1] > lower[2]:
            return "reproduced", f"the local exponent steepens from {lower[0]:.2f} to {upper[0]:.2f} (intervals apart)"
        if fit.r_squared >= 0.99:
            return "not reproduced", f"a clean power law (R² {fit.r_squared:.3f}) with local exponents {lower[0]:.2f} and {upper[0]:.2f}"
        return "inconclusive", f"local exponents {lower[0]:.2f} and {upper[0]:.2f} overlap, R² {fit.r_squared:.3f}"
    if fit.r_squared < POWER_LAW_R2:
        return "inconclusive", f"R² {fit.r_squared:.3f} < {POWER_LAW_R2}: not read as a power law"
    if fit.high >= low and fit.low <= high:
        return "reproduced", f"interval [{fit.low:.2f}, {fit.high:.2f}] meets {low:.2f}–{high:.2f}"
    return "not reproduced", f"interval [{fit.low:.2f}, {fit.high:.2f}] misses {low:.2f}–{high:.2f}"


def toy_exponents(cfg: GeometryConfig, runs: list[st.ToyRun], doubled: list[st.ToyRun]) -> pd.DataFrame:
    """One row per (family, γ): α_m with interval and R², the paper's value, the convergence check
    (the largest width trained twice as long, first seed) and the verdict."""
    rows = []
    largest = max(cfg.toy_widths)
    for family in families(cfg):
        for decay in cfg.toy_decays:
            mine = [r for r in runs if r.family == family and r.decay == decay]
            losses = {m: np.stack([r.eval_losses for r in mine if r.width == m]) for m in cfg.toy_widths}
            fit = exponent(np.array(cfg.toy_widths), losses, cfg.bootstrap_samples)
            first = {m: losses[m][:1] for m in cfg.toy_widths}
            longer = next(r for r in doubled if r.family == family and r.decay == decay)
            alpha_once = _slope(np.log(cfg.toy_widths), np.log([first[m].mean() for m in cfg.toy_widths]))
            alpha_twice = _slope(np.log(cfg.toy_widths), np.log([first[m].mean() if m != largest else longer.loss for m in cfg.toy_widths]))
            once = float(first[largest].mean())
            expected = paper_expectation(family, decay)
            verdict, reason = exponent_verdict(expected, fit, alpha_twice - alpha_once)
            rows.append(
                {
                    "family": family.label,
                    "decay": decay,
                    "regime": regime(decay),
                    "alpha_m": fit.alpha,
                    "alpha_low": fit.low,
                    "alpha_high": fit.high,
                    "r_squared": fit.r_squared,
                    "alpha_narrow_half": fit.lower_half[0],
                    "alpha_wide_half": fit.upper_half[0],
                    "paper": expected[0] if expected else "no prediction",
                    "loss_at_steps": once,
                    "loss_at_twice_the_steps": longer.loss,
                    "loss_change": longer.loss / once - 1,
                    "alpha_shift_when_doubled": alpha_twice - alpha_once,
                    "verdict": verdict,
                    "reason": reason,
                }
            )
    return pd.DataFrame(rows)


def train_grid(cfg: GeometryConfig) -> tuple[list[st.ToyRun], list[st.ToyRun]]:
    """Every width of the grid (all seeds), then the largest width at twice the steps (first seed)."""
    runs = [r for m in cfg.toy_widths for r in toy_width(cfg, m, cfg.toy_steps, cfg.toy_seeds)]
    doubled = toy_width(cfg, max(cfg.toy_widths), 2 * cfg.toy_steps, cfg.toy_seeds[:1])
    return runs, doubled


# --------------------------------------------------------------------------------------------
# The token geometry of the language models (tied embeddings: the rows are the LM head's too).


def token_geometry(embedding: np.ndarray, seed: int = 0) -> dict[str, float]:
    """Row norms and overlaps of an embedding E (vocabulary n, width m), float64.

    ``well_above_zero``: share of rows whose norm exceeds :data:`WELL_ABOVE` of the mean norm of the
    m largest rows. Overlaps are mean squared cosines over pairs of distinct rows, raw and after
    subtracting the mean row (the direction every token shares), each also × m (1 for random)."""
    e = np.asarray(embedding, dtype=np.float64)
    n, m = e.shape
    norms = np.linalg.norm(e, axis=1)
    top = np.sort(norms)[-m:].mean()
    centred = e - e.mean(axis=0)
    out = {
        "n_tokens": n,
        "m": m,
        "norm_q10": float(np.quantile(norms, 0.1)),
        "norm_median": float(np.median(norms)),
        "norm_q90": float(np.quantile(norms, 0.9)),
        "smallest_over_median": float(norms.min() / np.median(norms)),
        "well_above_zero": float((norms > WELL_ABOVE * top).mean()),
        "overlap": st.mean_squared_overlap(e, threshold=0.0),
        "overlap_centred": st.mean_squared_overlap(centred, threshold=0.0),
        "random_overlap": st.random_overlap(n, m, seed=seed),
    }
    out["overlap_times_m"] = out["overlap"] * m
    out["centred_overlap_times_m"] = out["overlap_centred"] * m
    singular = np.linalg.svd(e, compute_uv=False) ** 2
    out["top_direction_share"] = float(singular[0] / singular.sum())
    return out


def geometry_verdict(table: pd.DataFrame, n_tokens: int) -> tuple[str, str]:
    """Strong or weak superposition by the paper's criterion, over the trained models of ``table``:
    strong when every model keeps at least 90% of its token rows well above zero (no token is
    dropped), weak when every model keeps at most 2m/n of them (about m tokens get a direction),
    inconclusive otherwise."""
    trained = table[table.trained]
    if trained.empty:
        return "not measured", "no trained model"
    if (trained.well_above_zero >= 0.9).all():
        return (
            "strong",
            f"every trained model keeps ≥ 90% of its {n_tokens:,} token rows well above zero (lowest {trained.well_above_zero.min():.1%})",
        )
    if (trained.well_above_zero <= 2 * trained.m / n_tokens).all():
        return "weak", "every trained model keeps at most 2m/n of its token rows well above zero"
    return "inconclusive", f"shares of rows well above zero from {trained.well_above_zero.min():.1%} to {trained.well_above_zero.max():.1%}"


def trained_family(table: pd.DataFrame, depth: int | None) -> pd.DataFrame:
    """The token-geometry rows of the trained width family and its seed controls at the family's depth."""
    trained = table.trained.astype(bool)
    return table[trained & table.role.isin(["family", "seed control"]) & (table.n_layers == depth)]


def overlap_scaling(table: pd.DataFrame) -> dict[str, float]:
    """The exponent of the centred mean squared overlap against width over the family's models,
    trained and untrained apart (slope of log overlap on log m, with a 95% t-interval)."""
    out = {}
    depth = table[~table.trained].n_layers.iloc[0] if (~table.trained).any() else None
    for label, part in (("trained", trained_family(table, depth)), ("untrained", table[~table.trained])):
        if part.m.nunique() < 2:
            out |= {f"{label}_slope": float("nan"), f"{label}_low": float("nan"), f"{label}_high": float("nan")}
            continue
        found = slope_with_interval(np.log(part.m.to_numpy(float)), np.log(part.overlap_centred.to_numpy(float)))
        out |= {f"{label}_slope": found.value, f"{label}_low": found.low, f"{label}_high": found.high}
    return out


# --------------------------------------------------------------------------------------------
# Loss against width, and against width and depth.


@dataclass(frozen=True)
class WidthExponent:
    """L = C/m^α_m + L∞ fitted to one rung (or pooled with one offset per rung)."""

    label: str
    alpha: float
    low: float
    high: float
    r_squared: float
    offsets: tuple[float, ...]
    n_points: int
    interval: str  # how the interval was made


def width_exponent(label: str, groups: list[pd.DataFrame], samples: int, seed: int = 0) -> WidthExponent:
    """``groups``: one table per rung (d_model, seed, final_val_loss; a row per model). The interval
    resamples, per width, its language-model seeds (percentile, 95%) when every width has two or
    more; otherwise it is the fit's ±1.96 standard errors."""
    with np.errstate(over="ignore"):
        fit = fit_width_law([(g.d_model.to_numpy(float), g.final_val_loss.to_numpy(float)) for g in groups])
    seeded = all(g.groupby("d_model").size().min() > 1 for g in groups)
    if seeded:
        rng = np.random.default_rng(seed)
        alphas = []
        for _ in range(samples):
            resampled = [g.iloc[np.concatenate([rng.choice(rows, len(rows)) for rows in g.groupby("d_model").indices.values()])] for g in groups]
            try:
                with np.errstate(over="ignore"):
                    alphas.append(fit_width_law([(r.d_model.to_numpy(float), r.final_val_loss.to_numpy(float)) for r in resampled]).alpha)
            except (ValueError, np.linalg.LinAlgError):
                continue
        low, high = np.percentile(alphas, [2.5, 97.5])
        how = f"bootstrap over language-model seeds ({len(alphas)} resamples)"
    else:
        low, high = fit.alpha - 1.96 * fit.alpha_se, fit.alpha + 1.96 * fit.alpha_se
        how = "±1.96 standard errors of the fit (not every width has two seeds)"
    return WidthExponent(label, fit.alpha, float(low), float(high), fit.r_squared, fit.offsets, fit.n, how)


def quanta_alpha_m(zipf_exponent: float) -> float:
    """The quanta model's α_m for a family of fixed depth: quanta used with frequency ∝ k^−(α+1) give
    L ∝ (quanta learned)^−α; with quanta learned ∝ N ∝ m², α_m = 2α = 2(zipf − 1)."""
    return 2 * (zipf_exponent - 1)


def width_verdict(fit: WidthExponent, rival: float) -> tuple[str, str]:
    """Does width enter the loss as interference predicts? Yes when the α_m interval meets
    :data:`INTERFERENCE_BAND`, excludes the rival's α_m and is narrower than the gap between 0.91 and
    the rival (so that it can tell them apart); no when it misses the band; inconclusive otherwise
    (or with R² < 0.9, fewer than four points or no finite interval)."""
    band = INTERFERENCE_BAND
    if fit.n_points < 4 or not fit.r_squared >= 0.9 or not np.isfinite(fit.low):
        return "inconclusive", f"fit too weak to judge (R² {fit.r_squared:.2f}, {fit.n_points} points)"
    meets = fit.high >= band[0] and fit.low <= band[1]
    if not meets:
        return "no", f"α_m interval [{fit.low:.2f}, {fit.high:.2f}] misses {band[0]:.2f}–{band[1]:.2f}"
    if fit.high - fit.low > abs(LLM_ALPHA_M[0] - rival):
        return "inconclusive", f"α_m interval [{fit.low:.2f}, {fit.high:.2f}] is wider than the gap between 0.91 and the quanta model's {rival:.2f}"
    if fit.low <= rival <= fit.high:
        return (
            "inconclusive",
            f"α_m interval [{fit.low:.2f}, {fit.high:.2f}] meets {band[0]:.2f}–{band[1]:.2f} but also holds the quanta model's {rival:.2f}",
        )
    return "yes", f"α_m interval [{fit.low:.2f}, {fit.high:.2f}] meets {band[0]:.2f}–{band[1]:.2f} and excludes the quanta model's {rival:.2f}"


def depth_table(shapes: pd.DataFrame) -> pd.DataFrame:
    """Per shape (n_layers, d_model): mean loss over seeds, its seed spread, the number of seeds."""
    grouped = shapes.groupby(["n_layers", "d_model"]).final_val_loss
    table = grouped.agg(loss="mean", spread=lambda v: float(v.max() - v.min()), seeds="size").reset_index()
    return table.sort_values(["n_layers", "d_model"]).reset_index(drop=True)


def exponent_intervals(shapes: pd.DataFrame, samples: int, seed: int = 0) -> dict[str, list[float]]:
    """95% percentile intervals of α_m and α_ℓ of the width–depth law, resampling each shape's
    language-model seeds; NaN when no shape has two seeds (nothing to resample)."""
    groups = list(shapes.groupby(["n_layers", "d_model"]).indices.values())
    if max(len(rows) for rows in groups) < 2:
        return {"alpha_m": [float("nan")] * 2, "alpha_l": [float("nan")] * 2}
    rng = np.random.default_rng(seed)
    draws = []
    for _ in range(samples):
        sample = shapes.iloc[np.concatenate([rng.choice(rows, len(rows)) for rows in groups])]
        try:
            fit = fit_width_depth(sample.d_model.to_numpy(float), sample.n_layers.to_numpy(float), sample.final_val_loss.to_numpy(float))
        except ValueError:
            continue
        draws.append((fit.alpha_m, fit.alpha_l))
    low, high = np.percentile(np.array(draws), [2.5, 97.5], axis=0)
    return {"alpha_m": [float(low[0]), float(high[0])], "alpha_l": [float(low[1]), float(high[1])]}


def width_depth(
    shapes: pd.DataFrame, book_n: float, talk_n: float, model_a: tuple[int, int], tolerance: float, samples: int = 200
) -> tuple[pd.DataFrame, dict]:
    """Fit c_m/m^α_m + c_ℓ/ℓ^α_ℓ + L0 to every model (one row per model and seed), with intervals of
    its exponents over seeds (``samples`` resamples), predict each shape left out, and read the fit:
    the valley at the book's and the talk's N, Models A and B."""
    table = depth_table(shapes)
    m, depth, y = shapes.d_model.to_numpy(float), shapes.n_layers.to_numpy(float), shapes.final_val_loss.to_numpy(float)
    groups = [f"{a}-{b}" for a, b in zip(shapes.n_layers, shapes.d_model)]
    record: dict = {"n_shapes": len(table), "n_models": len(shapes), "depths": sorted(int(d) for d in table.n_layers.unique())}
    if len(table) < 6 or table.n_layers.nunique() < 2 or table.d_model.nunique() < 2:
        record["status"] = f"{len(table)} shapes at {table.n_layers.nunique()} depths: too few to fit five parameters and leave one shape out"
        return table.assign(predicted=np.nan, left_out=np.nan), record
    fit = fit_width_depth(m, depth, y)
    out = leave_one_out(m, depth, y, np.array(groups))
    per_shape = pd.DataFrame({"n_layers": depth, "d_model": m, "left_out": out}).groupby(["n_layers", "d_model"]).left_out.first().reset_index()
    table = table.merge(per_shape, on=["n_layers", "d_model"])
    table["predicted"] = fit.predict(table.d_model.to_numpy(float), table.n_layers.to_numpy(float))
    a_layers, a_width = model_a
    b_layers, b_width = max(a_layers // 4, 1), 2 * a_width
    loss_a, loss_b = (float(fit.predict(np.array([w]), np.array([ly]))[0]) for ly, w in ((a_layers, a_width), (b_layers, b_width)))
    record |= {
        "status": "fitted",
        "fit": {k: getattr(fit, k) for k in ("c_m", "alpha_m", "c_l", "alpha_l", "l0", "r_squared", "rss", "n")},
        "intervals": exponent_intervals(shapes, samples),
        "at_bound": [name for name in ("alpha_m", "alpha_l") if min(abs(getattr(fit, name) - b) for b in EXPONENT_BOUNDS) < 1e-3],
        "valley_book": valley_record(fit, book_n),
        "valley_talk": valley_record(fit, talk_n),
        "book_n": book_n,
        "talk_n": talk_n,
        "model_a": [a_layers, a_width],
        "model_b": [b_layers, b_width],
        "loss_a": loss_a,
        "loss_b": loss_b,
        "relative_gap_ab": abs(loss_b - loss_a) / min(loss_a, loss_b),
        "interference_a": fit.c_m / a_width**fit.alpha_m,
        "interference_b": fit.c_m / b_width**fit.alpha_m,
        "tolerance": tolerance,
        "left_out_error": float(np.nanmean(np.abs(table.left_out - table.loss))),
    }
    return table, record


#: The aspect ratios m/ℓ searched for the valley's floor.
RATIO_SEARCH = (0.1, 1e5)


def valley_record(fit, n_params: float) -> dict:
    """The valley at ``n_params`` as a record, with ``at_edge``: its floor lies at an end of
    :data:`RATIO_SEARCH`, i.e. the fitted law has no valley there (one term does not balance the other)."""
    found = dataclasses.asdict(valley(fit, n_params, ratios=RATIO_SEARCH))
    found["at_edge"] = not RATIO_SEARCH[0] * 1.01 < found["best_ratio"] < RATIO_SEARCH[1] / 1.01
    return found


def gaps_verdict(table: pd.DataFrame, equal_n_shapes: list[tuple[int, int]]) -> tuple[str, str]:
    """Does the width–depth law explain chapter 7's loss gaps? Yes when every chapter-7 shape left out
    of the fit is predicted within its seed spread (or 0.01 nats, whichever is larger); no when one
    misses by more than three times that; inconclusive otherwise or when the law could not be fitted."""
    if "left_out" not in table or table.left_out.isna().all():
        return "inconclusive", "the law was not fitted (too few shapes)"
    rows = table.set_index(["n_layers", "d_model"]).loc[[tuple(s) for s in equal_n_shapes]]
    allowed = np.maximum(rows.spread, 0.01)
    miss = (rows.left_out - rows.loss).abs()
    if (miss <= allowed).all():
        return "yes", f"every shape predicted within its seed spread (largest miss {miss.max():.3f} nats)"
    if (miss > 3 * allowed).any():
        return "no", f"a shape missed by {miss.max():.3f} nats, over three times its seed spread"
    return "inconclusive", f"largest miss {miss.max():.3f} nats, within three seed spreads"
