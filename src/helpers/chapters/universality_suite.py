"""Chapter 5's plan: every SAE read over the same held-out tokens, then the comparisons, the floors
that a comparison must beat, and the splices.

Stages, each cached or cheap: latent activations per SAE on disk (sparse, keyed by the SAE and the
windows) → correlations per pair of SAEs (both directions, and the whole matrix for one-to-one
matching) → per-latent tables → fits, intervals, counts, splices and examples.

Kinds of comparison (``Comparison.kind``), all on the same tokens:

- "cross-width": two widths of the family, every pair of their SAE seeds;
- "SAE seed": one model, two SAEs from different seeds (what SAE training alone changes);
- "seed control": the same width trained from another seed, model and SAE (a ceiling for width);
- "shuffled": the seed control with one side's windows shuffled (chance, frequency and position);
- "random model": a family SAE against the SAE of an untrained model of the same depth;
- "untrained pair": the SAEs of two untrained models of the family's widths (initialised exactly as
  training starts, SAEs trained the same way) against each other: the same-kind floor of every
  cross-width measurement;
- "token identity": an SAE against one-hot indicators of the current token (what tokenization
  alone explains; the scored latent's maximum there is its token-likeness).

Shapes of equal N are compared in chapter 7 (:mod:`helpers.chapters.equal_n`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from helpers.chapters import model_suite
from helpers.chapters.configs import LanguageModelsConfig, UniversalityConfig
from helpers.chapters.verdicts import INCONCLUSIVE, TOP_FRACTION_RULE, Verdict, top_fraction
from helpers.core import hardware, paths
from helpers.core.keys import cache_key
from helpers.lm.family import N_COLUMN, model_name, to_hooked
from helpers.lm.tokens import TokenData
from helpers.lm.training import TrainedModel
from helpers.sae.evaluation import Prefix, prefix_for, spliced_loss
from helpers.sae.training import load_sae
from helpers.theory import scaling
from helpers.universality.activations import SparseActivations, collect_activations, permute_windows, token_activations, top_activations
from helpers.universality.correlation import LatentStats, MaxCorrelation, latent_stats, max_correlations, with_original_arithmetic
from helpers.universality.fits import (
    CI_LEVEL,
    Correlation,
    bootstrap_mean,
    bootstrap_partial_r,
    bootstrap_r,
    fit_saturating,
    hierarchical_interval,
    partial_correlation,
    percentile_interval,
    rank_correlation,
    shape_comparison,
)
from helpers.universality.matching import OneToOne, distinct_partners, mutual_nearest, one_to_one

#: The kinds of comparison (``Comparison.kind``; the module docstring says what each one is).
CROSS_WIDTH, SAE_SEED, SEED_CONTROL = "cross-width", "SAE seed", "seed control"
SHUFFLED, RANDOM_MODEL, TOKEN_IDENTITY = "shuffled", "random model", "token identity"
UNTRAINED_PAIR = "untrained pair"
#: The floors a cross-width comparison is shown against; the verdicts use the same-kind one, UNTRAINED_PAIR.
FLOORS = (UNTRAINED_PAIR, TOKEN_IDENTITY, RANDOM_MODEL, SHUFFLED)

#: The against-side name of the token-identity dictionary.
TOKENS = "tokens"

SAEKey = tuple[str, str, int]  # (model, site, SAE seed)


@dataclass
class Suite:
    """Everything chapter 5 reads: models, SAE table (one row per SAE), windows and activations."""

    cfg: UniversalityConfig
    data: TokenData
    trained: dict[str, TrainedModel]
    saes: pd.DataFrame  # one row per SAE: model, role, d_model, n_layers, N, site, hook, sae_seed, replicate, folder
    windows: torch.Tensor  # (stat_windows, context) token ids
    activations: dict[SAEKey, SparseActivations]
    tokens: SparseActivations  # the token-identity dictionary on the same windows
    device: torch.device
    _hooked: dict = field(default_factory=dict, repr=False)
    _saes: dict = field(default_factory=dict, repr=False)
    _prefixes: dict = field(default_factory=dict, repr=False)

    def row(self, model: str, site: str, seed: int | None = None) -> pd.Series:
        """The SAE of (model, site) with ``seed``, or its first replicate."""
        rows = self.saes[(self.saes.model == model) & (self.saes.site == site)]
        rows = rows[rows.sae_seed == seed] if seed is not None else rows.sort_values("replicate")
        return rows.iloc[0]

    def seeds(self, model: str, site: str) -> list[int]:
        """SAE seeds of (model, site), replicate 0 first."""
        rows = self.saes[(self.saes.model == model) & (self.saes.site == site)].sort_values("replicate")
        return rows.sae_seed.astype(int).tolist()

    def hooked(self, model: str):
        """The model as a HookedTransformer, converted once."""
        if model not in self._hooked:
            self._hooked[model] = to_hooked(self.trained[model].model, self.data.tokenizer, self.device)
        return self._hooked[model]

    def prefix(self, model: str, site: str, windows: torch.Tensor) -> Prefix:
        """The residual entering the block of (model, site)'s hook on ``windows`` (n, context),
        computed once: every splice of that model then runs only the blocks from there on."""
        key = (model, site, windows_key(windows))
        if key not in self._prefixes:
            self._prefixes[key] = prefix_for(self.hooked(model), self.row(model, site).hook, windows.to(self.device))
        return self._prefixes[key]

    def sae(self, model: str, site: str):
        """The first replicate's SAE of (model, site), loaded once."""
        if (model, site) not in self._saes:
            self._saes[(model, site)] = load_sae(self.row(model, site).folder, self.device)
        return self._saes[(model, site)]


def windows_key(windows: torch.Tensor) -> str:
    """The key of a set of token windows ``[n_windows, n_ctx]``: their int64 bytes."""
    return cache_key(windows.numpy().astype(np.int64).tobytes())


def collect_all(cfg: UniversalityConfig, saes: pd.DataFrame, trained: dict[str, TrainedModel], data: TokenData, windows: torch.Tensor) -> Suite:
    """Latent activations of every SAE on ``windows`` (cached under runs/<preset>/activations/),
    and the token-identity dictionary on the same windows."""
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
            activations[(model, row.site, int(row.sae_seed))] = SparseActivations.open(folder)
    d_vocab = cfg.saes().language_models().d_vocab
    token_folder = root / TOKENS / f"vocab{d_vocab}-w{key}"
    tokens = SparseActivations.open(token_folder) if (token_folder / "meta.json").exists() else token_activations(windows, d_vocab, token_folder)
    return Suite(cfg, data, trained, saes, windows, activations, tokens, device)


# --------------------------------------------------------------------------------------------
# Pairs of SAEs.


@dataclass(frozen=True)
class Comparison:
    """Latents of ``scored`` (SAE seed ``scored_seed``) against ``against`` at ``site``; ``kind``
    names the role (see the module's docstring). ``against`` is ``TOKENS`` for the token dictionary."""

    kind: str
    site: str
    scored: str
    scored_seed: int
    against: str
    against_seed: int


@dataclass(frozen=True)
class Roles:
    """The names of chapter 3's models in their roles, and the untrained models."""

    family: list[str]  # the first language-model seed of every family width, narrowest first
    by_seed: list[list[str]]  # by_seed[k]: the family trained from the k-th seed (by_seed[0] is ``family``)
    seeded: str  # the shuffled control's model: the first seed of the seed-control width
    control: str  # the same width's second seed
    controls: dict[str, list[str]]  # per width's first-seed model: its further seeds (the seed controls)
    random: str  # the untrained model of the seed-control width
    untrained: list[list[str]]  # untrained[k]: the untrained model of every family width, from the k-th seed
    lineage: dict[str, str]  # model → what its language-model seeds replicate ("L8-d64", "L8-d64-random")


def roles(suite: Suite) -> Roles:
    return roles_for(suite.cfg.saes().language_models())


def roles_for(lm: LanguageModelsConfig) -> Roles:
    """:class:`Roles` from chapter 3's configuration alone."""
    seeds = lm.family_seeds
    by_seed = [[model_suite.seed_model_name(lm, w, s) for w in lm.widths] for s in seeds]
    planned = [p for p in model_suite.plan(lm) if p.role == "seed control"]  # chapter 3 decides which exist
    control_pairs = {w: [p.name for p in planned if p.shape.d_model == w] for w in lm.widths}
    control_pairs = {w: names for w, names in control_pairs.items() if names}
    untrained = [[model_suite.untrained_name(lm, w, s) for w in lm.widths] for s in seeds]
    lineage = {m: model_name(lm.n_layers, w) for w, names in zip(lm.widths, zip(*by_seed)) for m in names}
    lineage |= {p.name: model_name(lm.n_layers, p.shape.d_model) for p in planned}
    lineage |= {m: model_name(lm.n_layers, w, "random") for w, names in zip(lm.widths, zip(*untrained)) for m in names}
    width = lm.seed_control_width
    return Roles(
        by_seed[0],
        by_seed,
        model_name(lm.n_layers, width),
        control_pairs[width][0],
        {model_name(lm.n_layers, w): names for w, names in control_pairs.items()},
        untrained[0][lm.widths.index(width)],
        untrained,
        lineage,
    )


def comparisons(suite: Suite) -> list[Comparison]:
    """Every comparison of chapter 5. At the analysed site: cross-width pairs (the two widths' models
    of one language-model seed, every seed) and seed controls (two seeds of one width, at every width
    that has them) over every pair of SAE seeds; SAE-seed pairs; and the floors (shuffled, random
    model, untrained pair of every seed, token identity). At every other site: cross-width pairs of
    the first seed's first replicates."""
    site, r = suite.cfg.analysis_site, roles(suite)
    seeds = lambda model: suite.seeds(model, site)  # noqa: E731
    out = []
    for other in (s for s in suite.saes.site.unique() if s != site):
        first = lambda model: suite.seeds(model, other)[0]  # noqa: E731, B023 (called within this iteration)
        out += [Comparison(CROSS_WIDTH, other, a, first(a), b, first(b)) for a in r.family for b in r.family if a != b]
    out += [
        Comparison(CROSS_WIDTH, site, a, sa, b, sb)
        for family in r.by_seed
        for a in family
        for b in family
        if a != b
        for sa in seeds(a)
        for sb in seeds(b)
    ]
    replicated = [m for family in r.by_seed for m in family]
    out += [Comparison(SAE_SEED, site, m, sa, m, sb) for m in replicated for sa in seeds(m) for sb in seeds(m) if sa != sb]
    for first_seed, others in r.controls.items():
        group = [first_seed, *others]
        out += [Comparison(SEED_CONTROL, site, a, sa, b, sb) for a in group for b in group if a != b for sa in seeds(a) for sb in seeds(b)]
    out.append(Comparison(SHUFFLED, site, r.seeded, seeds(r.seeded)[0], r.control, seeds(r.control)[0]))
    out += [Comparison(RANDOM_MODEL, site, m, seeds(m)[0], r.random, seeds(r.random)[0]) for m in r.family]
    out += [Comparison(UNTRAINED_PAIR, site, a, seeds(a)[0], b, seeds(b)[0]) for group in r.untrained for a in group for b in group if a != b]
    trained = list(dict.fromkeys([*replicated, *(m for others in r.controls.values() for m in others)]))
    untrained = [m for group in r.untrained for m in group]
    out += [Comparison(TOKEN_IDENTITY, site, m, s, TOKENS, 0) for m in [*trained, *untrained] for s in seeds(m)]
    return out


def correlate(suite: Suite) -> dict[Comparison, MaxCorrelation]:
    """Correlations for every comparison (one engine call per unordered pair of SAEs; the whole
    matrix kept for one-to-one matching except against the token dictionary)."""
    done: dict[tuple, MaxCorrelation] = {}
    out = {}
    stats: dict[str, LatentStats] = {}  # per activation folder; a window shuffle leaves them unchanged

    def stats_of(acts: SparseActivations) -> LatentStats:
        if str(acts.folder) not in stats:
            stats[str(acts.folder)] = latent_stats(acts)
        return stats[str(acts.folder)]

    shuffled_root = paths.run_dir(suite.cfg.preset, suite.cfg.runs_dir or None) / "activations" / "shuffled"
    for c in tqdm(comparisons(suite), desc="correlations"):
        a = suite.activations[(c.scored, c.site, c.scored_seed)]
        b = suite.tokens if c.against == TOKENS else suite.activations[(c.against, c.site, c.against_seed)]
        pair_stats = (stats_of(a), stats_of(b))
        if c.kind == SHUFFLED:
            folder = shuffled_root / f"{b.folder.name}-seed{suite.cfg.seed}"
            b = (
                SparseActivations.open(folder)
                if (folder / "meta.json").exists()
                else permute_windows(b, suite.windows.shape[1], suite.cfg.seed, folder)
            )
        key, reverse = (c.kind == SHUFFLED, str(a.folder), str(b.folder)), (c.kind == SHUFFLED, str(b.folder), str(a.folder))
        if reverse in done:
            out[c] = done[reverse].reversed()
            continue
        if key not in done:
            done[key] = max_correlations(a, b, device=suite.device, stats=pair_stats, keep_matrix=c.against != TOKENS, epsilon=suite.cfg.epsilon)
        out[c] = done[key]
    return out


def latent_table(suite: Suite, correlations: dict[Comparison, MaxCorrelation]) -> pd.DataFrame:
    """One row per (comparison, latent of the scored SAE): its statistics, its universality (NaN
    for a dead latent unless the original's arithmetic is on), its best match, its one-to-one
    partner and that partner's correlation, whether the match is mutual, and its token-likeness (the untrained models'
    comparisons with the token dictionary give their token-likeness and are not rows themselves)."""
    token_likeness = {(c.scored, c.site, c.scored_seed): result.a_to_b for c, result in correlations.items() if c.kind == TOKEN_IDENTITY}
    assignments: dict[tuple, OneToOne] = {}  # one per unordered SAE pair; the reverse direction swaps sides

    def partners(c: Comparison, result: MaxCorrelation) -> tuple[np.ndarray, np.ndarray]:
        """(n,) each scored latent's one-to-one partner's correlation (NaN: none) and index (−1: none)."""
        n = len(result.stats_a.max)
        if result.matrix is None:
            return np.full(n, np.nan), np.full(n, -1)
        a, b = (c.scored, c.scored_seed), (c.against, c.against_seed)
        if (c.kind, c.site, b, a) in assignments:
            done = assignments[(c.kind, c.site, b, a)]
            assignment = OneToOne(done.cols, done.rows, done.values)
        else:
            assignment = assignments[(c.kind, c.site, a, b)] = one_to_one(result.matrix)
        return assignment.partner_correlation(n), assignment.partner_index(n)

    r = roles(suite)
    untrained = {m for group in r.untrained for m in group}
    frames = []
    for c, result in correlations.items():
        if c.kind == TOKEN_IDENTITY and c.scored in untrained:  # read for the token-likeness column only
            continue
        stats = result.stats_a
        n = len(stats.max)
        partner, partner_index = partners(c, result)
        against_d_model = 0 if c.against == TOKENS else int(suite.row(c.against, c.site, c.against_seed).d_model)
        frames.append(
            pd.DataFrame(
                {
                    "site": c.site,
                    "kind": c.kind,
                    "scored": c.scored,
                    "scored_seed": c.scored_seed,
                    "against": c.against,
                    "against_seed": c.against_seed,
                    "lineage": r.lineage.get(c.scored, c.scored),
                    "against_lineage": r.lineage.get(c.against, c.against),
                    "d_model": int(suite.row(c.scored, c.site, c.scored_seed).d_model),
                    "against_d_model": against_d_model,
                    "latent": np.arange(n),
                    "max_activation": stats.max,
                    "importance": stats.importance,
                    "frequency": stats.frequency,
                    "mean": stats.mean,
                    "dead": stats.dead,
                    "universality": result.a_to_b,
                    "match": result.a_to_b_index,
                    "universality_original_arithmetic": original_arithmetic(result, suite.cfg.epsilon),
                    "one_to_one": partner,
                    "partner": partner_index,
                    "mutual": mutual_nearest(result.a_to_b_index, result.b_to_a_index),
                    "token_likeness": token_likeness.get((c.scored, c.site, c.scored_seed), np.full(n, np.nan)),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def original_arithmetic(result: MaxCorrelation, epsilon: float) -> np.ndarray:
    """(n,) the scored latents' universality with the original's pseudo-count at every pair: the
    universality itself when the run already uses it, NaN against the token dictionary (no matrix kept)."""
    if epsilon:
        return result.a_to_b
    if result.matrix is None:
        return np.full(len(result.stats_a.max), np.nan)
    return with_original_arithmetic(result)


COMPARISON_COLUMNS = ["kind", "site", "scored", "scored_seed", "against", "against_seed"]
#: The weightings of the saturating fit as reported: (column prefix, weighting, a fixed at).
FITS = (("original", "original", None), ("inverse_density", "inverse density", None), ("unweighted", "none", None), ("a1", "original", 1.0))


def first_replicates(latents: pd.DataFrame) -> pd.DataFrame:
    """The rows that compare first replicates (each model's lowest SAE seed) on both sides; the
    token dictionary has one. Comparisons of one model's two SAE seeds are not among them."""
    sides = [latents[[model, seed]].set_axis(["model", "seed"], axis=1) for model, seed in (("scored", "scored_seed"), ("against", "against_seed"))]
    first = pd.concat(sides).groupby("model").seed.min()
    return latents[(latents.scored_seed == latents.scored.map(first)) & (latents.against_seed == latents.against.map(first))]


def first_seed_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows whose two sides are their lineages' first language-model seeds (the family itself):
    one model per width. A frame without lineage columns (a bundle made before them) is returned whole."""
    if "lineage" not in frame:
        return frame
    return frame[(frame.scored == frame.lineage) & (frame.against == frame.against_lineage)]


def scored_points(latents: pd.DataFrame) -> pd.DataFrame:
    """The (importance, universality) points that enter fits and r: every latent with a value."""
    return latents[latents.universality.notna()]


def r_draws(latents: pd.DataFrame, cfg: UniversalityConfig) -> dict[tuple, np.ndarray]:
    """Per comparison: r(importance, universality) on ``bootstrap_samples`` resamples of its latents."""
    out = {}
    for k, (key, group) in enumerate(latents.groupby(COMPARISON_COLUMNS, sort=False)):
        points = scored_points(group)
        out[key] = bootstrap_r(points.importance, points.universality, cfg.bootstrap_samples, seed=cfg.seed + k)
    return out


def _fit_columns(x: np.ndarray, y: np.ndarray) -> dict:
    row = {}
    for label, weighting, fix_a in FITS:
        fit = fit_saturating(x, y, weighting, fix_a)
        if label == "original":  # the talk's form against a relaxed one, a line and a monotone fit, by AIC
            shapes = shape_comparison(x, y, fit)
            row |= {f"aic_{name.replace(' ', '_')}": value for name, value in shapes.items() if name != "best"} | {"best_shape": shapes["best"]}
        row.update(
            {
                f"{label}_a": fit.a,
                f"{label}_b": fit.b,
                f"{label}_c": fit.c,
                f"{label}_r2": fit.r_squared,
                f"{label}_below_c": fit.below_c,
                f"{label}_at_bound": fit.at_bound,
                f"{label}_is_fit": fit.is_fit,
                f"{label}_formula": fit.formula(),
            }
        )
    return row


def pair_summary(latents: pd.DataFrame, cfg: UniversalityConfig, draws: dict[tuple, np.ndarray]) -> pd.DataFrame:
    """One row per comparison: counts; mean universality; the share of live latents matched at each
    τ by maximum correlation, one-to-one and as mutual nearest neighbours, and the number of distinct
    partners; r with its interval over latents; Spearman; r with the original's dead-latent
    arithmetic; partial correlations controlling for frequency and token-likeness; the four fits."""
    rows = []
    for key, group in latents.groupby(COMPARISON_COLUMNS, sort=False):
        points = scored_points(group)
        x, y = points.importance.to_numpy(), points.universality.to_numpy()
        alive = group[~group.dead]
        low, high = percentile_interval(draws[key])
        row = dict(zip(COMPARISON_COLUMNS, key)) | {
            "lineage": group.lineage.iloc[0],
            "against_lineage": group.against_lineage.iloc[0],
            "d_model": group.d_model.iloc[0],
            "against_d_model": group.against_d_model.iloc[0],
            "latents": len(group),
            "dead": int(group.dead.sum()),
            "points": len(points),
            "mean_universality": float(alive.universality.mean()),
            "median_universality": float(alive.universality.median()),
            "mean_one_to_one": float(alive.one_to_one.mean()),
        }
        for t in cfg.match_thresholds:
            row[f"share_matched_{t:g}"] = float((alive.universality >= t).mean())
            row[f"share_one_to_one_{t:g}"] = (
                float((alive.one_to_one >= t).mean()) if alive.one_to_one.notna().any() else np.nan
            )  # none without a matrix
            row[f"share_mutual_{t:g}"] = float((alive.mutual & (alive.universality >= t)).mean())
            row[f"partners_{t:g}"] = distinct_partners(alive.universality.to_numpy(), alive.match.to_numpy(), t)
        row |= {
            "r": float(np.corrcoef(x, y)[0, 1]),
            "r_low": low,
            "r_high": high,
            "spearman": rank_correlation(x, y),
            "r_original_arithmetic": float(np.corrcoef(group.importance, group.universality_original_arithmetic)[0, 1])
            if group.universality_original_arithmetic.notna().all()
            else np.nan,
        }
        controlled = controlled_points(group)
        if key[0] != TOKEN_IDENTITY and len(controlled) > 4:
            controls = np.column_stack([np.log10(controlled.frequency), controlled.token_likeness])
            row |= {
                "partial_r": partial_correlation(controlled.importance, controlled.universality, controls),
                "partial_spearman": partial_correlation(controlled.importance, controlled.universality, controls, rank=True),
                "spearman_token_likeness": rank_correlation(controlled.token_likeness, controlled.universality),
                "spearman_frequency": rank_correlation(controlled.frequency, controlled.universality),
                "mean_token_likeness": float(controlled.token_likeness.mean()),
            }
        if key[0] != TOKEN_IDENTITY:
            row |= _fit_columns(x, y)
        rows.append(row)
    return pd.DataFrame(rows)


def lineages(summary: pd.DataFrame) -> dict[str, str]:
    """Model → its lineage (what its language-model seeds replicate), from a summary's two sides."""
    return dict(zip(summary.scored, summary.lineage)) | dict(zip(summary.against, summary.against_lineage))


def interval_by_kind(summary: pd.DataFrame, draws: dict[tuple, np.ndarray], cfg: UniversalityConfig, by_pair: bool = False) -> pd.DataFrame:
    """Mean r per kind of comparison (or per pair of lineages, i.e. widths, with ``by_pair``) with the
    bootstrap interval of :func:`helpers.universality.fits.hierarchical_interval` (language-model
    seeds, SAE seeds, then latents). With ``by_pair``, ``scored`` and ``against`` name the lineages."""
    rows = []
    group_columns = ["site", "kind", "lineage", "against_lineage"] if by_pair else ["site", "kind"]
    lineage = lineages(summary)
    for key, group in summary.groupby(group_columns, sort=False):
        units = [(g.scored, g.scored_seed, g.against, g.against_seed) for g in group.itertuples()]
        stacked = np.stack([draws[tuple(g[c] for c in COMPARISON_COLUMNS)] for _, g in group.iterrows()])
        result: Correlation = hierarchical_interval(units, group.r.to_numpy(), stacked, cfg.bootstrap_samples, CI_LEVEL, cfg.seed, lineage)
        named = dict(zip(group_columns, key))
        if by_pair:
            named = {"site": named["site"], "kind": named["kind"], "scored": named["lineage"], "against": named["against_lineage"]}
        rows.append(
            named
            | {
                "r": result.r,
                "r_low": result.low,
                "r_high": result.high,
                "sae_pairs": len(group),
                "model_pairs": group[["scored", "against"]].drop_duplicates().shape[0],
                "d_model": group.d_model.iloc[0],
                "against_d_model": group.against_d_model.iloc[0],
            }
        )
    return pd.DataFrame(rows)


#: The kinds whose latent-level statistics get intervals for the verdicts (the same-kind floor and ceilings).
VERDICT_KINDS = (CROSS_WIDTH, UNTRAINED_PAIR, SEED_CONTROL, SAE_SEED)
#: Per-comparison statistics with intervals, by summary column: what each resamples over latents.
STATISTICS = {
    "r": "r(importance, universality)",
    "partial_r": "partial r after log frequency and token-likeness",
    "mean_one_to_one": "mean one-to-one universality",
    "mean_universality": "mean universality (the many-to-one maximum)",
}


def interval_covers(lm_seeds: int) -> str:
    """What every interval of :func:`kind_intervals` covers, for captions, given the language-model
    seeds per width the rung trained."""
    if lm_seeds > 1:
        return f"language-model seeds ({lm_seeds} per width, resampled per width), SAE seeds (per model) and latents (per SAE pair)"
    return "SAE seeds (resampled per model) and latents (resampled per SAE pair); not language-model seeds (one per width at this rung)"


def controlled_points(group: pd.DataFrame) -> pd.DataFrame:
    """The scored points with a token-likeness and a non-zero frequency: those the partial r reads."""
    points = scored_points(group)
    return points[np.isfinite(points.token_likeness) & (points.frequency > 0)]


def statistic_draws(latents: pd.DataFrame, cfg: UniversalityConfig, draws_r: dict[tuple, np.ndarray]) -> dict[str, dict[tuple, np.ndarray]]:
    """Per statistic of :data:`STATISTICS` and per comparison of a :data:`VERDICT_KINDS` kind at the
    analysed site: its value on ``bootstrap_samples`` resamples of the comparison's latents."""
    out: dict[str, dict[tuple, np.ndarray]] = {name: {} for name in STATISTICS}
    at = latents[(latents.site == cfg.analysis_site) & latents.kind.isin(VERDICT_KINDS)]
    for k, (key, group) in enumerate(at.groupby(COMPARISON_COLUMNS, sort=False)):
        alive = group[~group.dead]
        controlled = controlled_points(group)
        seed = cfg.seed + 7919 * (k + 1)
        out["r"][key] = draws_r[key]
        out["partial_r"][key] = bootstrap_partial_r(
            controlled.importance,
            controlled.universality,
            np.column_stack([np.log10(controlled.frequency), controlled.token_likeness]),
            cfg.bootstrap_samples,
            seed,
        )
        out["mean_one_to_one"][key] = bootstrap_mean(alive.one_to_one.to_numpy(), cfg.bootstrap_samples, seed + 1)
        out["mean_universality"][key] = bootstrap_mean(alive.universality.to_numpy(), cfg.bootstrap_samples, seed + 2)
    return out


def kind_intervals(summary: pd.DataFrame, draws: dict[str, dict[tuple, np.ndarray]], cfg: UniversalityConfig) -> pd.DataFrame:
    """One row per (kind, statistic) of :data:`VERDICT_KINDS` × :data:`STATISTICS` at the analysed site:
    the mean over lineage (width) pairs and the interval of
    :func:`helpers.universality.fits.hierarchical_interval` (language-model seeds, SAE seeds, then
    latents); ``lm_seeds`` counts the models of the kind's most replicated lineage."""
    at = summary[(summary.site == cfg.analysis_site) & summary.kind.isin(VERDICT_KINDS)]
    lineage = lineages(summary)
    rows = []
    for kind, group in at.groupby("kind", sort=False):
        sides = pd.concat(
            [
                group[["scored", "lineage"]].set_axis(["model", "lineage"], axis=1),
                group[["against", "against_lineage"]].set_axis(["model", "lineage"], axis=1),
            ]
        )
        lm_seeds = int(sides.drop_duplicates().groupby("lineage").model.nunique().max())
        units = [(g.scored, g.scored_seed, g.against, g.against_seed) for g in group.itertuples()]
        keys = [tuple(g[c] for c in COMPARISON_COLUMNS) for _, g in group.iterrows()]
        for statistic, meaning in STATISTICS.items():
            stacked = np.stack([draws[statistic][key] for key in keys])
            result = hierarchical_interval(units, group[statistic].to_numpy(), stacked, cfg.bootstrap_samples, CI_LEVEL, cfg.seed, lineage)
            rows.append(
                {
                    "kind": kind,
                    "statistic": statistic,
                    "meaning": meaning,
                    "value": result.r,
                    "low": result.low,
                    "high": result.high,
                    "model_pairs": group[["scored", "against"]].drop_duplicates().shape[0],
                    "sae_pairs": len(group),
                    "lm_seeds": lm_seeds,
                }
            )
    return pd.DataFrame(rows)


def controls_table(summary: pd.DataFrame, intervals: pd.DataFrame, site: str, tau: float) -> pd.DataFrame:
    """Per kind at ``site``: mean universality, the shares matched at ``tau`` three ways, mean
    token-likeness, and mean r with its interval over SAE seeds and latents."""
    at = summary[summary.site == site]
    table = at.groupby("kind", sort=False).agg(
        comparisons=("r", "size"),
        mean_universality=("mean_universality", "mean"),
        share_matched=(f"share_matched_{tau:g}", "mean"),
        share_one_to_one=(f"share_one_to_one_{tau:g}", "mean"),
        share_mutual=(f"share_mutual_{tau:g}", "mean"),
        mean_token_likeness=("mean_token_likeness", "mean"),
    )
    return table.join(intervals[intervals.site == site].set_index("kind")[["r", "r_low", "r_high"]]).reset_index()


def r_grid(intervals_by_pair: pd.DataFrame, site: str) -> pd.DataFrame:
    """Cross-width r (mean over SAE seeds) as a widths × widths table (rows scored), widest first."""
    cross = intervals_by_pair[(intervals_by_pair.kind == CROSS_WIDTH) & (intervals_by_pair.site == site)]
    grid = cross.pivot(index="d_model", columns="against_d_model", values="r")
    order = sorted(set(grid.index) | set(grid.columns), reverse=True)
    return grid.reindex(index=order, columns=order)


# --------------------------------------------------------------------------------------------
# Splices: a share of the latents only, and the latents shared with a narrower model.


#: How the kept latents are chosen: the talk's rule and its two controls.
KEEP_RULES = ("most important", "random", "least important")


def keep_mask(importance: np.ndarray, fraction: float, rule: str = "most important", seed: int = 0) -> torch.Tensor:
    """(n_latents,) bool: ceil(fraction · n) latents, the most or least important (ties: lower index
    first) or a random subset drawn with ``seed``."""
    if rule not in KEEP_RULES:
        raise ValueError(f"rule must be one of {', '.join(map(repr, KEEP_RULES))}, got {rule!r}")
    n_keep = int(np.ceil(fraction * len(importance) - 1e-9))
    if rule == "random":
        order = np.random.default_rng(seed).permutation(len(importance))
    else:
        order = np.argsort(-importance if rule == "most important" else importance, kind="stable")
    keep = torch.zeros(len(importance), dtype=torch.bool)
    keep[torch.from_numpy(order[:n_keep])] = True
    return keep


def family_importance(latents: pd.DataFrame, model: str) -> np.ndarray:
    """(n_latents,) importance of the first replicate's latents of ``model`` (from any comparison)."""
    rows = first_replicates(latents[latents.kind == CROSS_WIDTH])
    return rows[rows.scored == model].drop_duplicates("latent").sort_values("latent").importance.to_numpy()


def fraction_losses(suite: Suite, latents: pd.DataFrame, eval_windows: torch.Tensor) -> pd.DataFrame:
    """CE loss with a share x of the latents spliced in, per family model, rule, x and draw (first
    replicate); the random rule is drawn ``fraction_draws`` times, the others once."""
    site = suite.cfg.analysis_site
    rows = []
    for model in tqdm(roles(suite).family, desc="top-x% splices and controls"):
        row = suite.row(model, site)
        importance = family_importance(latents[latents.site == site], model)
        losses: dict[bytes, float] = {}  # the same mask (every latent, for one) is spliced once
        for rule in KEEP_RULES:
            for fraction in suite.cfg.keep_fractions:
                for draw in range(suite.cfg.fraction_draws if rule == "random" else 1):
                    keep = keep_mask(importance, fraction, rule, suite.cfg.seed + draw)
                    key = keep.numpy().tobytes()
                    if key not in losses:
                        losses[key] = spliced_loss(
                            suite.hooked(model),
                            row.hook,
                            suite.sae(model, site),
                            eval_windows.to(suite.device),
                            keep.to(suite.device),
                            prefix=suite.prefix(model, site, eval_windows),
                        )
                    rows.append(
                        {
                            "model": model,
                            "d_model": int(row.d_model),
                            "N": float(row[N_COLUMN]),
                            "rule": rule,
                            "keep_fraction": fraction,
                            "draw": draw,
                            "kept": int(keep.sum()),
                            "ce_spliced": losses[key],
                        }
                    )
    return pd.DataFrame(rows)


def frequency_matched_mask(frequency: np.ndarray, keep: np.ndarray, seed: int, bins: int = 10) -> torch.Tensor:
    """(n,) bool: a random subset with as many latents as ``keep`` (n,) in every bin of log firing
    frequency (``bins`` quantile bins of the live latents; latents that never fire form a bin of their
    own), so that the control shares the kept latents' frequency profile."""
    rng = np.random.default_rng(seed)
    live = frequency > 0
    log_frequency = np.log(np.where(live, frequency, 1.0))
    edges = np.quantile(log_frequency[live], np.linspace(0, 1, bins + 1)[1:-1]) if live.any() else np.array([])
    bin_of = np.where(live, np.searchsorted(edges, log_frequency, side="right"), -1)
    out = np.zeros(len(frequency), dtype=bool)
    for b in np.unique(bin_of[keep]):
        members = np.flatnonzero(bin_of == b)
        out[rng.choice(members, size=int((keep & (bin_of == b)).sum()), replace=False)] = True
    return torch.from_numpy(out)


def fraction_slopes(losses: pd.DataFrame) -> pd.DataFrame:
    """Per rule, kept share x and draw: the exponent α of CE ∝ N^−α across the family, with its R²."""
    rows = []
    losses = losses if "draw" in losses else losses.assign(draw=0)
    for (rule, fraction, draw), group in losses.groupby(["rule", "keep_fraction", "draw"], sort=False):
        fit = scaling.fit_power_law(group.N, group.ce_spliced)
        rows.append({"rule": rule, "keep_fraction": fraction, "draw": draw, "alpha": fit.alpha, "r_squared": fit.r_squared})
    return pd.DataFrame(rows)


def fraction_summary(slopes: pd.DataFrame) -> pd.DataFrame:
    """Per rule and kept share: α's mean over draws with the 2.5% and 97.5% quantiles of the draws
    (the spread of the random control; one draw for the other rules, or in a bundle made before
    draws), the smallest R², and the number of draws."""
    slopes = slopes if "draw" in slopes else slopes.assign(draw=0)
    table = slopes.groupby(["rule", "keep_fraction"], sort=False).agg(
        alpha=("alpha", "mean"),
        alpha_low=("alpha", lambda a: float(np.quantile(a, 0.025))),
        alpha_high=("alpha", lambda a: float(np.quantile(a, 0.975))),
        r_squared=("r_squared", "min"),
        draws=("draw", "nunique"),
    )
    return table.reset_index()


#: The smallest R² of a power law whose exponent a verdict may use.
MIN_POWER_LAW_R2 = 0.8


def fraction_verdict(slopes: pd.DataFrame) -> Verdict:
    """:func:`helpers.chapters.verdicts.top_fraction` on the slopes table: is α(top x%) below both
    controls at every x < 1 (below the 2.5% quantile of the random draws), and which way does it move with x (the sign of its least-squares slope
    against x, over x < 1; the talk's rose from ≈0.02 to ≈0.09)? Fits with R² < ``MIN_POWER_LAW_R2``
    make it inconclusive."""
    summary = fraction_summary(slopes)
    partial = summary[summary.keep_fraction < 1]
    if partial.empty:
        return Verdict(INCONCLUSIVE, TOP_FRACTION_RULE, "", "no share below 100% was spliced")
    poor = int((partial.r_squared < MIN_POWER_LAW_R2).sum())
    table = partial.pivot(index="keep_fraction", columns="rule", values="alpha").sort_index()
    random_low = partial[partial.rule == "random"].set_index("keep_fraction").alpha_low.sort_index()
    below = bool(((table["most important"] < random_low) & (table["most important"] < table["least important"])).all())
    top = table["most important"]
    slope = float(np.polyfit(top.index.to_numpy(dtype=float), top.to_numpy(), 1)[0]) if len(top) > 1 else float("nan")
    rising = None if not np.isfinite(slope) or slope == 0 else bool(slope > 0)
    return top_fraction(below, rising, poor)


def width_counts(latents: pd.DataFrame, threshold: float) -> pd.DataFrame:
    """Per family width (first replicates): latents, alive latents, and latents matched (≥ threshold)
    in at least one and in every other width, by maximum correlation and one-to-one."""
    cross = first_seed_rows(first_replicates(latents[latents.kind == CROSS_WIDTH]))
    rows = []
    for (model, d_model), group in cross.groupby(["scored", "d_model"], sort=False):
        hits = {
            column: group.assign(hit=group[column] >= threshold).pivot(index="latent", columns="against", values="hit")
            for column in ("universality", "one_to_one")
        }
        rows.append(
            {
                "model": model,
                "d_model": d_model,
                "latents": hits["universality"].shape[0],
                "alive": int((~group.drop_duplicates("latent").dead).sum()),
                "matched_any": int(hits["universality"].any(axis=1).sum()),
                "matched_all": int(hits["universality"].all(axis=1).sum()),
                "one_to_one_any": int(hits["one_to_one"].any(axis=1).sum()),
                "one_to_one_all": int(hits["one_to_one"].all(axis=1).sum()),
            }
        )
    return pd.DataFrame(rows).sort_values("d_model").reset_index(drop=True)


def loss_gap(loss_a: float, loss_b: float) -> float:
    """The one definition of two models' loss gap used across chapters: |L_a − L_b| in nats."""
    return abs(loss_a - loss_b)


def shared_feature_split(
    suite: Suite, latents: pd.DataFrame, eval_windows: torch.Tensor, spliced: dict[str, float], clean_law: scaling.PowerLawFit
) -> pd.DataFrame:
    """For every family pair (narrow, wide) and τ: the wide model's loss with only its latents that
    match the narrow model (≥ τ) spliced in, with random subsets of the same size and the same firing
    frequencies (:func:`frequency_matched_mask`; ``split_draws`` of them at ``match_threshold``, one at
    every other τ; the loss is their mean, with the 2.5% and 97.5% quantiles),
    and the share of the loss gap each closes; every loss also as an effective N through
    ``clean_law`` (chapter 4's clean-loss power law), so that splice damage shows as lost N.

    gap = L_narrow − L_wide(all); shared share = (L_narrow − L_wide(matched)) / gap.
    ``spliced`` gives each model's loss with its whole SAE (first replicates).
    """
    site = suite.cfg.analysis_site
    cross = first_seed_rows(first_replicates(latents[(latents.kind == CROSS_WIDTH) & (latents.site == site)]))
    rows = []
    pairs = cross[cross.d_model > cross.against_d_model][["scored", "against", "d_model", "against_d_model"]].drop_duplicates()
    for pair in tqdm(list(pairs.itertuples()), desc="shared-latent splices"):
        wide, narrow = pair.scored, pair.against
        scores = cross[(cross.scored == wide) & (cross.against == narrow)].sort_values("latent")
        hooked, sae, hook = suite.hooked(wide), suite.sae(wide, site), suite.row(wide, site).hook
        gap = spliced[narrow] - spliced[wide]
        frequency = scores.frequency.to_numpy()
        for k, threshold in enumerate(suite.cfg.match_thresholds):
            keep = np.array(scores.universality >= threshold, dtype=bool)
            draws = suite.cfg.split_draws if threshold == suite.cfg.match_threshold else 1
            prefix = suite.prefix(wide, site, eval_windows)
            loss = spliced_loss(hooked, hook, sae, eval_windows.to(suite.device), torch.from_numpy(keep).to(suite.device), prefix=prefix)
            randoms = np.array(
                [
                    spliced_loss(
                        hooked,
                        hook,
                        sae,
                        eval_windows.to(suite.device),
                        frequency_matched_mask(frequency, keep, suite.cfg.seed + 1000 * k + d).to(suite.device),
                        prefix=prefix,
                    )
                    for d in range(draws)
                ]
            )
            loss_random = float(randoms.mean())
            rows.append(
                {
                    "narrow": narrow,
                    "wide": wide,
                    "narrow_d_model": pair.against_d_model,
                    "wide_d_model": pair.d_model,
                    "tau": threshold,
                    "matched": int(keep.sum()),
                    "latents": len(keep),
                    "loss_narrow": spliced[narrow],
                    "loss_wide_matched": loss,
                    "loss_wide_random": loss_random,
                    "loss_wide_random_low": float(np.quantile(randoms, 0.025)),
                    "loss_wide_random_high": float(np.quantile(randoms, 0.975)),
                    "random_draws": draws,
                    "loss_wide_all": spliced[wide],
                    "gap": gap,
                    "shared_share": (spliced[narrow] - loss) / gap if gap else np.nan,
                    "random_share": (spliced[narrow] - loss_random) / gap if gap else np.nan,
                    "n_eff_narrow": float(clean_law.effective_n(spliced[narrow])),
                    "n_eff_wide_all": float(clean_law.effective_n(spliced[wide])),
                    "n_eff_wide_matched": float(clean_law.effective_n(loss)),
                    "n_eff_wide_random": float(clean_law.effective_n(loss_random)),
                }
            )
    table = pd.DataFrame(rows)
    table["extra_share"] = 1 - table.shared_share
    return table


# --------------------------------------------------------------------------------------------
# Examples.


def example_contexts(suite: Suite, site: str, model: str, latent: int, k: int, before: int) -> list[dict]:
    """The ``k`` top-activating tokens of one latent (first replicate): text before the token, the
    token, the activation."""
    acts = suite.activations[(model, site, suite.seeds(model, site)[0])]
    positions, values = top_activations(acts, latent, k)
    context = suite.windows.shape[1]
    tokens = suite.windows.reshape(-1)
    out = []
    for position, value in zip(positions, values):
        start = max(int(position) - before, (int(position) // context) * context)
        out.append(
            {
                "before": suite.data.tokenizer.decode(tokens[start:position].tolist()),
                "token": suite.data.tokenizer.decode([int(tokens[position])]),
                "activation": float(value),
            }
        )
    return out
