"""The scale ladder: one measurement read from this run and from every committed results bundle.

A rung is one preset's finished run: the run the book is executing now, and each bundle under
``results/`` (:mod:`helpers.publish.bundle`) of another preset. Rungs are ordered by the non-embedding N of
their widest language model. Each ``*_ladder`` function returns one row per rung, the columns
the chapters plot against scale; a bundle that lacks a file the row needs raises
:class:`helpers.publish.bundle.BundleError` naming it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from helpers.chapters import ch10_discussion, dynamics
from helpers.chapters.configs import CONFIGS, ChapterConfig
from helpers.chapters.universality_suite import (
    CROSS_WIDTH,
    RANDOM_MODEL,
    SAE_SEED,
    SEED_CONTROL,
    TOKEN_IDENTITY,
    UNTRAINED_PAIR,
    fraction_summary,
    fraction_verdict,
)
from helpers.core import paths, results
from helpers.lm.family import N_COLUMN
from helpers.publish.bundle import committed_bundles

LM, SAES, UNIVERSALITY, DYNAMICS, EQUAL_N, GEOMETRY, COUNTING, DISCUSSION = (
    "03_language_models",
    "04_saes",
    "05_universality",
    "06_training_dynamics",
    "07_equal_n",
    "08_geometry",
    "09_counting",
    "10_discussion",
)


@dataclass(frozen=True)
class Rung:
    """One preset's results, read through ``table(chapter, name)`` and ``record(chapter, name)``, and
    the parameters each chapter ran with (``parameters(chapter)``)."""

    preset: str
    source: str  # "this run" or "bundle"
    table: Callable[[str, str], pd.DataFrame]
    record: Callable[[str, str], Any]
    parameters: Callable[[str], dict[str, Any]]
    has: Callable[[str, str], bool]  # has(chapter, file name): whether the rung wrote that file
    files: tuple[str, ...] = ()  # a bundle's files, "<chapter>/<name>" (its manifest's list); empty for this run

    def family(self) -> pd.DataFrame:
        """Chapter 3's rows of the width family (one per width)."""
        models = self.table(LM, "models")
        return models[models.role == "family"].sort_values("d_model")

    @property
    def widest_n(self) -> float:
        return float(self.family()[N_COLUMN].max())

    @property
    def label(self) -> str:
        return f"{self.preset} ({self.source})"

    def analysis_site(self) -> str:
        return self.parameters(UNIVERSALITY)["site"] or self.parameters(SAES)["hooks"][-1]


def bundle_rungs(bundles_dir: str | Path | None = None, leave_out: str = "") -> list[Rung]:
    """One rung per committed bundle under ``bundles_dir`` (default ``<project>/results``), but
    ``leave_out``'s, in no particular order."""
    return [
        Rung(
            b.preset,
            "bundle",
            b.table,
            b.record,
            lambda c, b=b: b.record(c, "provenance")["parameters"],
            lambda c, n, b=b: f"{c}/{n}" in b.manifest["files"],
            tuple(sorted(b.manifest["files"])),
        )
        for b in committed_bundles(bundles_dir)
        if b.preset != leave_out
    ]


def rungs(config: ChapterConfig) -> list[Rung]:
    """The rung of the run ``config`` belongs to (its chapters' parameters from the same preset)
    and one per committed bundle of another preset, smallest scale first."""
    preset, runs_dir = config.preset, config.runs_dir or None
    this = Rung(
        preset,
        "this run",
        lambda c, n: results.table(preset, c, n, runs_dir),
        lambda c, n: results.record(preset, c, n, runs_dir),
        lambda c: (config if c == config.chapter else config.chapter_config(CONFIGS[c])).as_dict(),
        lambda c, n: (paths.results_dir(preset, c, runs_dir) / n).exists(),
    )
    bundled = bundle_rungs(getattr(config, "bundles_dir", "") or None, leave_out=preset)
    return sorted([this, *bundled], key=lambda r: (r.widest_n, r.preset))


def _base(rung: Rung) -> dict[str, Any]:
    family = rung.family()
    return {
        "rung": rung.preset,
        "source": rung.source,
        "corpus": rung.parameters(LM)["corpus"],
        "widest N": rung.widest_n,
        "widths": ", ".join(str(int(w)) for w in family.d_model),
        "tokens per model": int(family.train_tokens.iloc[0]),
    }


def language_model_ladder(ladder: list[Rung]) -> pd.DataFrame:
    """Per rung: the family's loss law (α, R²), the widest model's loss, the equal-N and seed gaps."""
    rows = []
    for rung in ladder:
        fit, pair = rung.record(LM, "loss_fit"), rung.record(LM, "pair_and_seed")
        family = rung.family()
        pair_losses = [m["final_val_loss"] for m in pair["pair"]]
        seed_losses = [m["final_val_loss"] for m in pair["seed_control"]]
        rows.append(
            _base(rung)
            | {
                "loss of widest": float(family.final_val_loss.iloc[-1]),
                "alpha": fit["alpha"],
                "r_squared": fit["r_squared"],
                "pair gap (nats)": abs(pair_losses[0] - pair_losses[1]),
                "seed gap (nats)": abs(seed_losses[0] - seed_losses[1]),
            }
        )
    return pd.DataFrame(rows)


def sae_ladder(ladder: list[Rung]) -> pd.DataFrame:
    """Per rung, the family's SAEs at the analysed site: explained variance, loss recovered and L0
    (range over widths, and the widest model's)."""
    rows = []
    for rung in ladder:
        site = rung.analysis_site()
        metrics = rung.table(SAES, "sae_metrics")
        family = metrics[(metrics.role.str.contains("family")) & (metrics.site == site)].sort_values("d_model")
        rows.append(
            _base(rung)
            | {
                "site": site,
                "d_sae": int(family.d_sae.iloc[-1]),
                "explained variance (min)": float(family.explained_variance.min()),
                "explained variance (widest)": float(family.explained_variance.iloc[-1]),
                "loss recovered (min)": float(family.loss_recovered.min()),
                "loss recovered (widest)": float(family.loss_recovered.iloc[-1]),
                "L0 (widest)": float(family.l0.iloc[-1]),
            }
        )
    return pd.DataFrame(rows)


def universality_ladder(ladder: list[Rung]) -> pd.DataFrame:
    """Per rung: mean cross-width r with its interval over SAE seeds and latents, universality
    against its floors and ceiling, one-to-one matching, the top-x% comparison and the shared-latent
    split."""
    rows = []
    for rung in ladder:
        site = rung.analysis_site()
        intervals = rung.table(UNIVERSALITY, "r_intervals")
        cross = intervals[(intervals.level == "kind") & (intervals.kind == CROSS_WIDTH) & (intervals.site == site)].iloc[0]
        controls = rung.table(UNIVERSALITY, "controls").set_index("kind")
        slopes = rung.table(UNIVERSALITY, "top_fraction_slopes")
        smallest = slopes.keep_fraction.min()
        summary = fraction_summary(slopes)
        at_smallest = summary[summary.keep_fraction == smallest].set_index("rule")
        split = rung.table(UNIVERSALITY, "shared_feature_split")
        tau = rung.parameters(UNIVERSALITY)["match_threshold"]
        split = split[split.tau == tau]
        rows.append(
            _base(rung)
            | {
                "site": site,
                "r": float(cross.r),
                "r_low": float(cross.r_low),
                "r_high": float(cross.r_high),
                "r (seed control)": float(controls.r[SEED_CONTROL]),
                "r (untrained pair)": float(controls.r[UNTRAINED_PAIR]) if UNTRAINED_PAIR in controls.index else float("nan"),
                "r (random model)": float(controls.r[RANDOM_MODEL]),
                "universality": float(controls.mean_universality[CROSS_WIDTH]),
                "untrained-pair floor": float(controls.mean_universality[UNTRAINED_PAIR]) if UNTRAINED_PAIR in controls.index else float("nan"),
                "token floor": float(controls.mean_universality[TOKEN_IDENTITY]),
                "random-model floor": float(controls.mean_universality[RANDOM_MODEL]),
                "SAE-seed ceiling": float(controls.mean_universality[SAE_SEED]),
                "share one-to-one ≥ τ (cross-width)": float(controls.share_one_to_one[CROSS_WIDTH]),
                "share one-to-one ≥ τ (random model)": float(controls.share_one_to_one[RANDOM_MODEL]),
                "kept": float(smallest),
                "alpha (most important)": float(at_smallest.alpha["most important"]),
                "R² (most important)": float(at_smallest.r_squared["most important"]),
                "alpha (random)": float(at_smallest.alpha["random"]),
                "top-x% verdict": fraction_verdict(slopes).verdict,
                "tau": float(tau),
                "shared beats random": int((split.loss_wide_matched < split.loss_wide_random).sum()),
                "split pairs": int(len(split)),
            }
        )
    return pd.DataFrame(rows)


def dynamics_curves(ladder: list[Rung]) -> pd.DataFrame:
    """Every rung's r along both training axes (chapter 6's ``r_along_training``), with its rung."""
    return pd.concat([rung.table(DYNAMICS, "r_along_training").assign(rung=rung.preset) for rung in ladder], ignore_index=True)


def dynamics_ladder(ladder: list[Rung]) -> pd.DataFrame:
    """Per rung: the pair, r at the start and end of each axis, the slope rule's reading of it (recomputed
    from the rung's own points by today's rule), the SAE-seed spread, and the explanation it supports."""
    rows = []
    for rung in ladder:
        result, r_along = rung.record(DYNAMICS, "summary"), rung.table(DYNAMICS, "r_along_training")
        row = _base(rung) | {"pair": " vs ".join(result["pair"]), "seed spread": result["seed_spread"]}
        axes = {axis: dynamics.rise(r_along, axis) for axis in (dynamics.LM_AXIS, dynamics.SAE_AXIS)}
        for axis, values in axes.items():
            row |= {f"r ({axis}, start)": values["r_first"], f"r ({axis}, end)": values["r_last"], f"{axis}": values["direction"]}
        rows.append(row | {"supports": dynamics.explanation(axes[dynamics.LM_AXIS]["direction"], axes[dynamics.SAE_AXIS]["direction"])})
    return pd.DataFrame(rows)


def json_number(value: float | None) -> float:
    """A number read back from JSON, where NaN was written as null."""
    return float("nan") if value is None else float(value)


def equal_n_ladder(ladder: list[Rung]) -> pd.DataFrame:
    """One row per rung: chapter 7's shapes, their loss gap against the seeds' spread, the one-to-one
    share within and across shapes, every pair of shapes' frequency shift against the bound's
    prediction (one cell), and the verdict (the pairs' common one, or each pair's when they differ)."""
    rows = []
    for rung in ladder:
        result = rung.record(EQUAL_N, "summary")
        loss, shifts = result["loss"], result["shifts"]
        verdicts = list(dict.fromkeys(s["verdict"] for s in shifts))
        rows.append(
            _base(rung)
            | {
                "shapes": ", ".join(result["shapes"]),
                "loss gap (nats)": loss["gap_nats"],
                "relative gap": loss["relative_gap"],
                "seed spread (nats)": loss["seed_spread_nats"],
                "comparable loss": loss["comparable"],
                "one-to-one (same shape)": result["share_matched_same_shape"],
                "one-to-one (two shapes)": result["share_matched_across_shapes"],
                "seed noise": json_number(result["seed_noise"]),
                "shift against the bound": "; ".join(
                    f"{s['narrower']} vs {s['wider']}: {_shift(s['shift'])} (bound {_shift(s['predicted'])})" for s in shifts
                ),
                "verdict": verdicts[0] if len(verdicts) == 1 else "; ".join(f"{s['narrower']} vs {s['wider']}: {s['verdict']}" for s in shifts),
            }
        )
    return pd.DataFrame(rows)


def geometry_ladder(ladder: list[Rung]) -> pd.DataFrame:
    """One row per rung that ran chapter 8: the toy grid's verdicts, the token geometry (its verdict,
    the range of rows well above zero, the overlap exponent in width against the untrained models'),
    α_m with its interval and R², the planted measurement's r in each regime, and the verdicts."""
    rows = []
    for rung in (r for r in ladder if r.has(GEOMETRY, "summary.json")):
        summary = rung.record(GEOMETRY, "summary")
        tokens = rung.table(GEOMETRY, "token_geometry")
        trained = tokens[tokens.trained.astype(bool)].well_above_zero
        toy, overlap, law, planted = summary["toy"]["verdicts"], summary["overlap_scaling"], summary["width_law"], summary["planted"]
        rows.append(
            _base(rung)
            | {
                "toy settings reproduced": f"{toy.get('reproduced', 0)} of {sum(toy.values())}",
                "token rows well above zero (every trained model)": f"{trained.min():.0%}–{trained.max():.0%}",
                "token geometry": summary["token_geometry"]["verdict"],
                "overlap exponent (trained)": _interval(overlap["trained_slope"], overlap["trained_low"], overlap["trained_high"]),
                "overlap exponent (untrained)": f"{json_number(overlap['untrained_slope']):.2f}",
                "α_m": _interval(law["alpha_m"], law["alpha_low"], law["alpha_high"]),
                "R² of the αₘ fit": json_number(law["r_squared"]),
                "width enters as interference": summary["interference"]["verdict"],
                "width–depth law explains the gaps": summary["gaps"]["verdict"],
                "planted r, strong regime": f"{planted['strong']['r_min']:.2f} to {planted['strong']['r_max']:.2f}",
                "planted r, weak regime": f"{planted['weak']['r_min']:.2f} to {planted['weak']['r_max']:.2f}",
                "planted r, untrained": f"{planted['untrained']['r_min']:.2f} to {planted['untrained']['r_max']:.2f}",
            }
        )
    return pd.DataFrame(rows)


def _interval(value: float | None, low: float | None, high: float | None) -> str:
    """A value and its interval as the ladder writes them: two decimals, – when missing."""
    return f"{json_number(value):.2f} [{json_number(low):.2f}, {json_number(high):.2f}]"


def counting_ladder(ladder: list[Rung]) -> pd.DataFrame:
    """One row per rung that ran chapter 9: the sweep, n* of the narrowest and the widest width at
    each target (first k), the share of dead latents, and the three verdicts with their readings."""
    rows = []
    for rung in (r for r in ladder if r.has(COUNTING, "summary.json")):
        summary, needed = rung.record(COUNTING, "summary"), rung.table(COUNTING, "needed")
        needed = needed[needed.k == summary["k"]]
        row = _base(rung) | {"k": summary["k"], "dictionary sizes": ", ".join(f"{n:,}" for n in summary["sizes"])}
        for error, words in (("normalised_mse", "normalised MSE"), ("delta_ce", "spliced-loss rise")):
            at = needed[needed.error == error].sort_values("d_model")
            target = summary["targets"][error]
            row[f"n* at {words} {target:g}"] = "; ".join(f"width {int(r.d_model)}: {r.label}" for r in at.iloc[[0, -1]].itertuples())
            row[f"needs more ({words})"] = summary["stores_more"][error]
        rows.append(
            row
            | {
                "most latents dead": summary["dead_share_max"],
                "beyond untrained models": summary["beyond_untrained"],
                "gets more at equal n": summary["gets_more"],
            }
        )
    return pd.DataFrame(rows)


def _shift(value: float | None) -> str:
    """A frequency shift as the ladder writes it: three decimals, – when missing."""
    number = json_number(value)
    return "–" if number != number else f"{number:.3f}"


def rung_verdicts(rung: Rung) -> pd.DataFrame:
    """Chapter 10's claims and new measurements judged at one rung by today's rules from its own
    results files: one row each with the talk's value (claims only), the rung's value, the rule, the
    control, the verdict and the chapter that measures it."""
    inputs = ch10_discussion.read_inputs(rung.table, rung.record, rung.has)
    site, tau = rung.analysis_site(), rung.parameters(UNIVERSALITY)["match_threshold"]
    claims = ch10_discussion.claims_table(inputs, site, rung.preset).rename(columns={"claim": "claim or measurement"})
    new = ch10_discussion.new_measurements(inputs, site, tau, rung.preset).rename(
        columns={"measurement": "claim or measurement", "answer": "verdict"}
    )
    return pd.concat([claims.assign(kind="claim"), new.assign(kind="measurement", talk="")], ignore_index=True).rename(columns={rung.preset: "value"})


def verdict_ladder(ladder: list[Rung]) -> pd.DataFrame:
    """Chapter 10's claims and new measurements, one row each, judged at every rung by today's rules
    from that rung's own results files: the rule, the control it was judged against, and one verdict
    column per rung ("not measured at this rung" where a bundle predates the control), and whether
    the claim's models read a corpus (:data:`~helpers.chapters.ch10_discussion.READS_CORPUS`)."""
    merged: pd.DataFrame | None = None
    for rung in ladder:
        kept = ["claim or measurement", "rule", "control", ch10_discussion.READS_CORPUS, "verdict"]
        column = rung_verdicts(rung)[kept].rename(columns={"verdict": rung.preset})
        merged = column if merged is None else merged.merge(column[["claim or measurement", rung.preset]], on="claim or measurement", how="left")
    return merged


#: Where the staged book keeps the committed bundles, relative to a chapter's page (the runner copies them there).
BUNDLES_FOLDER = "results/bundles"


def data_links(ladder: list[Rung], chapter: str) -> str:
    """MyST: where the data of a chapter's across-scales section lies, to download: this run's results
    (listed under Provenance) and, per committed bundle, that chapter's files and the bundle's manifest
    (hashes, commits, versions)."""
    bundles = []
    for rung in (r for r in ladder if r.source == "bundle"):
        names = [f.split("/", 1)[1] for f in rung.files if f.startswith(f"{chapter}/")]
        links = ", ".join(f"{{download}}`{name} <{BUNDLES_FOLDER}/{rung.preset}/{chapter}/{name}>`" for name in names)
        manifest = f"{{download}}`manifest.json <{BUNDLES_FOLDER}/{rung.preset}/manifest.json>`"
        files = f"{links} (its manifest: {manifest})" if names else f"the earlier chapters' files, which its manifest lists: {manifest}"
        bundles.append(f"`{rung.preset}`: {files}")
    text = "The data of this section: this run's results files, listed under Provenance below"
    return text + ("; each committed bundle's, " + "; ".join(bundles) if bundles else "") + "."


def describe(ladder: list[Rung]) -> str:
    """The rungs in words, for the pages' prose."""
    if len(ladder) == 1:
        return f"only this run (`{ladder[0].preset}`): no results bundle of another preset is committed under `results/`"
    return ", ".join(f"`{r.preset}` ({r.source})" for r in ladder)


def width_law_ladder(ladder: list[Rung], samples: int) -> pd.DataFrame:
    """L = C/m^α_m + L∞ fitted to each rung's width family (every seed) and, for each corpus read by
    two or more rungs, to those rungs pooled with one offset per rung (as Liu, Liu & Gore pooled
    model families), each with its interval. Rungs of different corpora are never pooled: each
    corpus has its own tokenizer, so their losses are in different units."""
    from helpers.chapters import geometry

    def family(rung: Rung) -> pd.DataFrame:
        models = rung.table(LM, "models")
        depth = rung.parameters(LM)["n_layers"]
        return models[models.role.isin(["family", "seed control"]) & (models.n_layers == depth)]

    fits = [geometry.width_exponent(rung.label, [family(rung)], samples) for rung in ladder]
    by_corpus: dict[str, list[Rung]] = {}
    for rung in ladder:
        by_corpus.setdefault(rung.parameters(LM)["corpus"], []).append(rung)
    for corpus, rungs in by_corpus.items():
        if len(rungs) > 1:
            label = f"{corpus} rungs pooled (one offset per rung)"
            fits.append(geometry.width_exponent(label, [family(rung) for rung in rungs], samples))
    return pd.DataFrame(
        {"rung": f.label, "α_m": f.alpha, "low": f.low, "high": f.high, "R²": f.r_squared, "points": f.n_points, "interval": f.interval} for f in fits
    )


def by_rung(table: pd.DataFrame, leave_out: tuple[str, ...] = (), formats: dict[str, str] | None = None) -> pd.DataFrame:
    """A per-rung table (one row per rung, a ``rung`` column) turned to read down: one row per
    measure, one column per rung, each value as text: by its measure's format in ``formats`` (a
    ``str.format`` pattern) where given, else :func:`helpers.core.numbers.readable`, and missing
    values '–'; measures named in words (:func:`helpers.core.numbers.display_name`); the measures in
    ``leave_out`` are dropped."""
    from helpers.core.numbers import display_name, readable

    table = table.drop(columns=list(leave_out))
    for column, pattern in (formats or {}).items():
        table[column] = [readable(v) if pd.isna(v) else pattern.format(v) for v in table[column]]
    turned = table.set_index("rung").T.map(readable)
    turned.index = [display_name(measure) for measure in turned.index]
    return turned.rename_axis(index="measure", columns=None).reset_index()
