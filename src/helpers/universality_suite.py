"""Chapter 5's plan: every SAE of chapter 4 read over the same held-out tokens, then the comparisons.

Stages, each cached or cheap: latent activations per (model, site) on disk (sparse, keyed by the SAE
and the windows) → maximum correlations per pair of SAEs (both directions at once) → per-latent
tables → fits, counts, splices and examples.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from scipy.stats import spearmanr
from tqdm.auto import tqdm

from helpers import hardware, paths, scaling
from helpers.config import UniversalityConfig
from helpers.importance import fit_saturating, pearson_with_ci
from helpers.models import to_hooked
from helpers.saes import load_sae, spliced_loss
from helpers.tokens import TokenData
from helpers.training import TrainedModel
from helpers.universality import (LatentStats, MaxCorrelation, SparseActivations, collect_activations, latent_stats,
                                  max_correlations, permute_windows, top_activations, with_dead_value)


@dataclass
class Suite:
    """Everything chapter 5 reads: models, SAE table (chapter 4's rows), windows and activations."""

    cfg: UniversalityConfig
    data: TokenData
    trained: dict[str, TrainedModel]
    saes: pd.DataFrame  # one row per (model, site): model, role, d_model, n_layers, N, site, hook, folder
    windows: torch.Tensor  # (stat_windows, context) token ids
    activations: dict[tuple[str, str], SparseActivations]
    device: torch.device
    _hooked: dict = field(default_factory=dict, repr=False)
    _saes: dict = field(default_factory=dict, repr=False)

    def row(self, model: str, site: str) -> pd.Series:
        return self.saes[(self.saes.model == model) & (self.saes.site == site)].iloc[0]

    def hooked(self, model: str):
        """The model as a HookedTransformer, converted once."""
        if model not in self._hooked:
            self._hooked[model] = to_hooked(self.trained[model].model, self.data.tokenizer, self.device)
        return self._hooked[model]

    def sae(self, model: str, site: str):
        """The SAE of (model, site), loaded once."""
        if (model, site) not in self._saes:
            self._saes[(model, site)] = load_sae(self.row(model, site).folder, self.device)
        return self._saes[(model, site)]


def windows_key(windows: torch.Tensor) -> str:
    return hashlib.sha256(windows.numpy().astype(np.int64).tobytes()).hexdigest()[:12]


def collect_all(cfg: UniversalityConfig, saes: pd.DataFrame, trained: dict[str, TrainedModel], data: TokenData,
                windows: torch.Tensor) -> Suite:
    """Latent activations of every SAE on ``windows`` (cached under runs/<preset>/activations/)."""
    device = hardware.resolve_device(cfg.device)
    root = paths.run_dir(cfg.preset, cfg.runs_dir or None) / "activations"
    key = windows_key(windows)
    activations = {}
    for model, rows in tqdm(list(saes.groupby("model", sort=False)), desc="activations"):
        hooked = None
        for row in rows.itertuples():
            folder = root / model / f"{Path(row.folder).name}-w{key}"
            if not (folder / "meta.json").exists():
                if hooked is None:
                    hooked = to_hooked(trained[model].model, data.tokenizer, device)
                collect_activations(hooked, row.hook, load_sae(row.folder, device), windows.to(device), folder)
            activations[(model, row.site)] = SparseActivations.open(folder)
    return Suite(cfg, data, trained, saes, windows, activations, device)


# --------------------------------------------------------------------------------------------
# Pairs of SAEs.


@dataclass(frozen=True)
class Comparison:
    """Latents of ``scored`` against those of ``against`` (same site); ``kind`` names the role."""

    scored: str
    against: str
    kind: str  # "cross-width", "seed control", "shuffled", "equal-N pair"


def comparisons(suite: Suite) -> list[Comparison]:
    """Every ordered pair of family widths, the seed control both ways, its window-shuffled floor,
    and the equal-N pair both ways."""
    lm = suite.cfg.saes().language_models()
    family = [f"L{lm.n_layers}-d{w}" for w in lm.widths]
    seeded = f"L{lm.n_layers}-d{lm.seed_control_width}"
    control = f"{seeded}-seed{lm.control_seed}"
    deep, wide = (f"L{layers}-d{width}" for layers, width in (lm.pair_a, lm.pair_b))
    pairs = [Comparison(a, b, "cross-width") for a in family for b in family if a != b]
    pairs += [Comparison(seeded, control, "seed control"), Comparison(control, seeded, "seed control")]
    pairs += [Comparison(seeded, control, "shuffled")]
    pairs += [Comparison(deep, wide, "equal-N pair"), Comparison(wide, deep, "equal-N pair")]
    return pairs


def correlate(suite: Suite, site: str) -> dict[Comparison, MaxCorrelation]:
    """Maximum correlations for every comparison at ``site`` (one engine call per unordered pair)."""
    results: dict[tuple[str, str, str], MaxCorrelation] = {}
    out = {}
    stats: dict[str, LatentStats] = {}  # per SAE; a window shuffle leaves them unchanged

    def stats_of(acts: SparseActivations) -> LatentStats:
        if str(acts.folder) not in stats:
            stats[str(acts.folder)] = latent_stats(acts)
        return stats[str(acts.folder)]

    shuffled_root = paths.run_dir(suite.cfg.preset, suite.cfg.runs_dir or None) / "activations" / "shuffled"
    for comparison in tqdm(comparisons(suite), desc=f"max correlations at {site}"):
        a = suite.activations[(comparison.scored, site)]
        b = suite.activations[(comparison.against, site)]
        pair_stats = (stats_of(a), stats_of(b))
        if comparison.kind == "shuffled":
            folder = shuffled_root / f"{b.folder.name}-seed{suite.cfg.seed}"
            b = SparseActivations.open(folder) if (folder / "meta.json").exists() else \
                permute_windows(b, suite.windows.shape[1], suite.cfg.seed, folder)
        done = results.get((comparison.against, comparison.scored, comparison.kind))
        if done is not None:  # the reverse direction of a pair already computed
            out[comparison] = MaxCorrelation(done.b_to_a, done.b_to_a_index, done.a_to_b, done.a_to_b_index,
                                             done.stats_b, done.stats_a)
            continue
        result = max_correlations(a, b, device=suite.device, stats=pair_stats)
        results[(comparison.scored, comparison.against, comparison.kind)] = out[comparison] = result
    return out


def latent_table(suite: Suite, site: str, correlations: dict[Comparison, MaxCorrelation]) -> pd.DataFrame:
    """One row per (comparison, latent of the scored SAE): its statistics and universality.

    ``universality`` is NaN for a dead latent (or the original's −2 with ``dead_latents: original``).
    """
    frames = []
    for comparison, result in correlations.items():
        stats = result.stats_a
        frames.append(pd.DataFrame({
            "site": site, "kind": comparison.kind, "scored": comparison.scored, "against": comparison.against,
            "d_model": int(suite.row(comparison.scored, site).d_model),
            "against_d_model": int(suite.row(comparison.against, site).d_model),
            "latent": np.arange(len(stats.max)), "max_activation": stats.max, "importance": stats.importance,
            "frequency": stats.frequency, "mean": stats.mean, "dead": stats.dead,
            "universality": with_dead_value(result.a_to_b, suite.cfg.dead_value), "match": result.a_to_b_index,
        }))
    return pd.concat(frames, ignore_index=True)


def scored_points(latents: pd.DataFrame) -> pd.DataFrame:
    """The (importance, universality) points that enter fits and r: dead latents only when they
    carry a value (the original's −2 convention)."""
    return latents[latents.universality.notna()]


def pair_summary(latents: pd.DataFrame, cfg: UniversalityConfig) -> pd.DataFrame:
    """One row per comparison: counts, universality, r with a bootstrap interval, r under the
    original's convention for dead latents, and the three fits."""
    rows = []
    for (kind, scored, against), group in latents.groupby(["kind", "scored", "against"], sort=False):
        points = scored_points(group)
        x, y = points.importance.to_numpy(), points.universality.to_numpy()
        alive = group[~group.dead]
        correlation = pearson_with_ci(x, y, cfg.bootstrap_samples, seed=cfg.seed)
        original_convention = np.corrcoef(group.importance, group.universality.fillna(-2.0))[0, 1]
        row = {"site": group.site.iloc[0], "kind": kind, "scored": scored, "against": against,
               "d_model": group.d_model.iloc[0], "against_d_model": group.against_d_model.iloc[0],
               "latents": len(group), "dead": int(group.dead.sum()), "points": len(points),
               "mean_universality": float(alive.universality.mean()),
               "median_universality": float(alive.universality.median()),
               **{f"share_matched_{t:g}": float((alive.universality >= t).mean()) for t in cfg.match_thresholds},
               "r": correlation.r, "r_low": correlation.low, "r_high": correlation.high,
               "spearman": float(spearmanr(x, y).statistic) if len(x) > 2 else np.nan,
               "r_dead_as_minus_2": float(original_convention)}
        for label, weighting, fix_a in (("kde", "1/KDE", None), ("unweighted", "none", None), ("a1", "1/KDE", 1.0)):
            try:
                fit = fit_saturating(x, y, weighting, fix_a)
                row.update({f"{label}_a": fit.a, f"{label}_b": fit.b, f"{label}_c": fit.c,
                            f"{label}_r2": fit.r_squared, f"{label}_at_bound": fit.at_bound})
            except (RuntimeError, ValueError, np.linalg.LinAlgError) as error:  # a degenerate scatter
                row.update({f"{label}_a": np.nan, f"{label}_b": np.nan, f"{label}_c": np.nan,
                            f"{label}_r2": np.nan, f"{label}_at_bound": f"no fit: {error}"})
        rows.append(row)
    return pd.DataFrame(rows)


def r_grid(summary: pd.DataFrame) -> pd.DataFrame:
    """Cross-width r as a widths × widths table (rows scored, columns compared with), widest first."""
    cross = summary[summary.kind == "cross-width"]
    grid = cross.pivot(index="d_model", columns="against_d_model", values="r")
    order = sorted(set(grid.index) | set(grid.columns), reverse=True)
    return grid.reindex(index=order, columns=order)


# --------------------------------------------------------------------------------------------
# Splices: the most important latents only, and the latents shared with a narrower model.


def keep_most_important(importance: np.ndarray, fraction: float) -> torch.Tensor:
    """(n_latents,) bool: the ceil(fraction · n) latents of highest importance (ties: lower index)."""
    n_keep = int(np.ceil(fraction * len(importance) - 1e-9))
    order = np.argsort(-importance, kind="stable")[:n_keep]
    keep = torch.zeros(len(importance), dtype=torch.bool)
    keep[torch.from_numpy(order)] = True
    return keep


def top_fraction_losses(suite: Suite, site: str, latents: pd.DataFrame, eval_windows: torch.Tensor) -> pd.DataFrame:
    """CE loss with only the top x% latents by importance spliced in, per family model and x."""
    family = suite.saes[suite.saes.role.str.contains("family") & (suite.saes.site == site)]
    family = family.rename(columns={"N (12·L·d²)": "N"})
    rows = []
    for row in tqdm(list(family.itertuples()), desc="top-x% splices"):
        importance = latents[(latents.scored == row.model) & (latents.kind == "cross-width")].drop_duplicates("latent")
        importance = importance.sort_values("latent").importance.to_numpy()
        hooked, sae = suite.hooked(row.model), suite.sae(row.model, site)
        for fraction in suite.cfg.keep_fractions:
            keep = keep_most_important(importance, fraction)
            loss = spliced_loss(hooked, row.hook, sae, eval_windows.to(suite.device), keep.to(suite.device))
            rows.append({"model": row.model, "d_model": row.d_model, "N": row.N, "keep_fraction": fraction,
                         "kept": int(keep.sum()), "ce_spliced": loss})
    return pd.DataFrame(rows)


def top_fraction_slopes(losses: pd.DataFrame) -> pd.DataFrame:
    """Per kept share x: the exponent α of CE ∝ N^−α across the family (−slope on log-log axes)."""
    rows = []
    for fraction, group in losses.groupby("keep_fraction"):
        fit = scaling.fit_power_law(group.N, group.ce_spliced)
        rows.append({"keep_fraction": fraction, "alpha": fit.alpha, "r_squared": fit.r_squared})
    return pd.DataFrame(rows)


def width_counts(latents: pd.DataFrame, threshold: float) -> pd.DataFrame:
    """Per family width: latents, alive latents, and latents matched (≥ threshold) in at least one
    and in every other width."""
    cross = latents[latents.kind == "cross-width"]
    rows = []
    for (model, d_model), group in cross.groupby(["scored", "d_model"], sort=False):
        matched = group.assign(hit=group.universality >= threshold).pivot(index="latent", columns="against", values="hit")
        rows.append({"model": model, "d_model": d_model, "latents": matched.shape[0],
                     "alive": int((~group.drop_duplicates("latent").dead).sum()),
                     "matched_any": int(matched.any(axis=1).sum()), "matched_all": int(matched.all(axis=1).sum())})
    return pd.DataFrame(rows).sort_values("d_model").reset_index(drop=True)


def shared_feature_split(suite: Suite, site: str, latents: pd.DataFrame, eval_windows: torch.Tensor,
                         spliced: dict[str, float]) -> pd.DataFrame:
    """For every family pair (narrow, wide) and τ: the wide model's loss with only its latents that
    match the narrow model (≥ τ) spliced in, and the share of the loss gap those shared latents close.

    gap = L_narrow − L_wide(all); shared share = (L_narrow − L_wide(matched)) / gap; the rest is
    what the wide model's extra latents add. ``spliced`` gives each model's loss with its whole SAE.
    """
    cross = latents[latents.kind == "cross-width"]
    rows = []
    pairs = cross[cross.d_model > cross.against_d_model][["scored", "against", "d_model", "against_d_model"]].drop_duplicates()
    for pair in tqdm(list(pairs.itertuples()), desc="shared-latent splices"):
        wide, narrow = pair.scored, pair.against
        scores = cross[(cross.scored == wide) & (cross.against == narrow)].sort_values("latent")
        hooked, sae = suite.hooked(wide), suite.sae(wide, site)
        hook = suite.row(wide, site).hook
        gap = spliced[narrow] - spliced[wide]
        for threshold in suite.cfg.match_thresholds:
            keep = torch.from_numpy(np.array(scores.universality >= threshold, dtype=bool))
            loss = spliced_loss(hooked, hook, sae, eval_windows.to(suite.device), keep.to(suite.device))
            rows.append({"narrow": narrow, "wide": wide, "narrow_d_model": pair.against_d_model, "wide_d_model": pair.d_model,
                         "tau": threshold, "matched": int(keep.sum()), "latents": len(keep),
                         "loss_narrow": spliced[narrow], "loss_wide_matched": loss, "loss_wide_all": spliced[wide],
                         "gap": gap, "shared_share": (spliced[narrow] - loss) / gap if gap else np.nan})
    table = pd.DataFrame(rows)
    table["extra_share"] = 1 - table.shared_share
    return table


# --------------------------------------------------------------------------------------------
# The equal-N pair, and examples.


def matched_frequencies(latents: pd.DataFrame, scored: str, against: str, kind: str, threshold: float) -> pd.DataFrame:
    """Latents of ``scored`` matched (≥ threshold) in ``against``, with both latents' firing frequencies."""
    this = latents[(latents.kind == kind) & (latents.scored == scored) & (latents.against == against)]
    other = latents[(latents.kind == kind) & (latents.scored == against) & (latents.against == scored)]
    matched = this[this.universality >= threshold]
    partner = other.set_index("latent").frequency
    return pd.DataFrame({"latent": matched.latent.to_numpy(), "match": matched.match.to_numpy(),
                         "universality": matched.universality.to_numpy(), "frequency": matched.frequency.to_numpy(),
                         "match_frequency": partner.loc[matched.match.to_numpy()].to_numpy()})


def example_contexts(suite: Suite, site: str, model: str, latent: int, k: int, before: int) -> list[dict]:
    """The ``k`` top-activating tokens of one latent: text before the token, the token, the activation."""
    acts = suite.activations[(model, site)]
    positions, values = top_activations(acts, latent, k)
    context = suite.windows.shape[1]
    tokens = suite.windows.reshape(-1)
    out = []
    for position, value in zip(positions, values):
        start = max(int(position) - before, (int(position) // context) * context)
        out.append({"before": suite.data.tokenizer.decode(tokens[start:position].tolist()),
                    "token": suite.data.tokenizer.decode([int(tokens[position])]), "activation": float(value)})
    return out
