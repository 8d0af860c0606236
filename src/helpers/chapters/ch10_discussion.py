"""Chapter 10: the talk's claims with a verdict each, the new measurements, how this run differs from
the original; every number read from chapters 1 to 9's results files."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from helpers.chapters import ch03_language_models, ch05_universality, dynamics, model_suite, verdicts
from helpers.chapters.configs import DiscussionConfig, LanguageModelsConfig, SAEsConfig, UniversalityConfig
from helpers.chapters.universality_suite import CROSS_WIDTH, fraction_verdict, loss_gap
from helpers.core import paths, reference, results
from helpers.core.numbers import sci
from helpers.core.provenance import ChapterRun
from helpers.lm.family import N_COLUMN, model_name
from helpers.theory import scaling

#: The results files this chapter writes (beside provenance.json); a bundle holding another is refused.
RESULT_FILES = ("claims.csv", "differences.csv", "new_measurements.csv")


@dataclass(frozen=True)
class Inputs:
    """The earlier chapters' results that chapter 10 reads, from this run or from a bundle. Files that
    a bundle made before a control existed lacks are None, and the rules that need them say
    :data:`helpers.chapters.verdicts.NOT_MEASURED`."""

    refit: dict[str, Any]  # chapter 1: the talk's law refitted
    lm_fit: dict[str, Any]  # chapter 3: the family's loss law
    models: pd.DataFrame  # chapter 3: one row per model, indexed by name
    corpus: dict[str, Any]  # chapter 3: the corpus record
    sae_metrics: pd.DataFrame  # chapter 4
    spliced_fits: pd.DataFrame  # chapter 4
    intervals: pd.DataFrame  # chapter 5: r intervals by kind and by pair
    kind_intervals: pd.DataFrame | None  # chapter 5: per (kind, statistic) intervals, with the untrained pair
    split: pd.DataFrame  # chapter 5: the shared-latent split
    slopes: pd.DataFrame  # chapter 5: the top-x% exponents
    r_along: pd.DataFrame  # chapter 6: r along both training axes
    dynamics: dict[str, Any]  # chapter 6's summary
    equal_n: dict[str, Any]  # chapter 7's summary
    geometry: dict[str, Any] | None  # chapter 8's summary (None for a rung made before chapter 8 existed)
    counting: dict[str, Any] | None  # chapter 9's summary (None for a rung made before chapter 9 existed)


@dataclass(frozen=True)
class PairPremise:
    """Chapter 3's equal-N pair against two seeds of one shape."""

    aspect_factor: float  # how many times apart the pair's aspect ratios are
    pair_gap: float  # |loss difference| of the pair (nats)
    seed_gap: float  # |loss difference| of two seeds of one shape (nats)
    holds: bool  # :func:`helpers.chapters.verdicts.equal_loss`


@dataclass(frozen=True)
class Discussion:
    """What chapter 10 shows."""

    inputs: Inputs
    lm_cfg: LanguageModelsConfig
    sae_cfg: SAEsConfig
    u_cfg: UniversalityConfig
    claims: pd.DataFrame  # one row per claim of the talk: this run's value, the rule, the control, the verdict
    new: pd.DataFrame  # one row per new measurement: value, rule, control, answer
    differences: pd.DataFrame  # one row per setting: this run against the original
    premise: PairPremise


Table = Callable[[str, str], pd.DataFrame]
Record = Callable[[str, str], Any]
Has = Callable[[str, str], bool]


def read_inputs(table: Table, record: Record, has: Has) -> Inputs:
    """Every results file of chapters 1 to 9 that chapter 10 uses, through ``table(chapter, name)``,
    ``record(chapter, name)`` and ``has(chapter, file name)`` (a missing required file names the
    chapter to run)."""
    return Inputs(
        refit=record("01_scaling_laws", "talk_refit"),
        lm_fit=record("03_language_models", "loss_fit"),
        models=table("03_language_models", "models").drop_duplicates("model").set_index("model"),
        corpus=record("03_language_models", "corpus"),
        sae_metrics=table("04_saes", "sae_metrics"),
        spliced_fits=table("04_saes", "spliced_loss_fits"),
        intervals=table("05_universality", "r_intervals"),
        kind_intervals=table("05_universality", "kind_intervals") if has("05_universality", "kind_intervals.csv") else None,
        split=table("05_universality", "shared_feature_split"),
        slopes=table("05_universality", "top_fraction_slopes"),
        r_along=table("06_training_dynamics", "r_along_training"),
        dynamics=record("06_training_dynamics", "summary"),
        equal_n=record("07_equal_n", "summary"),
        geometry=record("08_geometry", "summary") if has("08_geometry", "summary.json") else None,
        counting=record("09_counting", "summary") if has("09_counting", "summary.json") else None,
    )


def run_inputs(cfg: DiscussionConfig) -> Inputs:
    """:func:`read_inputs` on this run's results."""
    return read_inputs(
        lambda c, n: results.table(cfg.preset, c, n, cfg.runs_dir),
        lambda c, n: results.record(cfg.preset, c, n, cfg.runs_dir),
        lambda c, n: (paths.results_dir(cfg.preset, c, cfg.runs_dir or None) / n).exists(),
    )


def compute(cfg: DiscussionConfig, run: ChapterRun) -> Discussion:
    """Read the earlier chapters' results, apply every rule and write the three tables."""
    inputs = run_inputs(cfg)
    u_cfg = cfg.chapter_config(UniversalityConfig)
    sae_cfg = u_cfg.saes()
    lm_cfg = sae_cfg.language_models()
    claims = claims_table(inputs, u_cfg.analysis_site, cfg.preset)
    new = new_measurements(inputs, u_cfg.analysis_site, u_cfg.match_threshold, cfg.preset)
    run.save_table("claims", claims)
    run.save_table("new_measurements", new)
    differences = differences_table(inputs, lm_cfg, sae_cfg, u_cfg, cfg.preset)
    run.save_table("differences", differences)
    return Discussion(inputs, lm_cfg, sae_cfg, u_cfg, claims, new, differences, pair_premise(inputs, lm_cfg))


#: The column that says whether a row's models read a corpus (chapter 8's toy models read synthetic features).
READS_CORPUS = "reads a corpus"


def _row(
    label: str,
    name: str,
    rung: str,
    value: str,
    judged: verdicts.Verdict,
    column: str = "verdict",
    *,
    chapter: str,
    reads_corpus: bool = True,
    **extra: str,
) -> dict:
    """One row of a verdict table; ``chapter`` is the label of the chapter that measures it and
    ``reads_corpus`` whether its models were trained on the rung's corpus."""
    return {
        label: name,
        **extra,
        rung: value,
        "rule": judged.rule,
        "control": judged.control,
        column: judged.verdict,
        "chapter": chapter,
        READS_CORPUS: reads_corpus,
    }


def chapter_5_verdicts(inputs: Inputs) -> dict[str, verdicts.Verdict]:
    """Chapter 5's verdicts by :func:`helpers.chapters.ch05_universality.judge`; a rung whose chapter 5
    had no untrained pair gives an empty table, and each rule says "not measured at this rung"."""
    return ch05_universality.judge(inputs.kind_intervals if inputs.kind_intervals is not None else pd.DataFrame(columns=["kind", "statistic"]))


def loss_law(inputs: Inputs) -> tuple[dict, verdicts.Verdict]:
    """Chapter 3's loss law recomputed from its model table (so every rung is judged by today's rule)."""
    family = ch03_language_models.family_over_seeds(inputs.models.reset_index())
    fit = scaling.fit_power_law(family[N_COLUMN], family.final_val_loss)
    record = ch03_language_models.loss_law_record(family, fit, reference.original_run()["language_models"]["fitted_law"]["alpha"])
    return record, verdicts.Verdict(record["verdict"], record["rule"], record["control"], record["reason"])


def claims_table(inputs: Inputs, site: str, rung: str) -> pd.DataFrame:
    """The talk's three claims: what it reported, what this run (``rung``) measured, the rule, the
    control it was judged against and its verdict."""
    original = reference.original_run()
    cross = inputs.intervals
    cross = cross[(cross.site == site) & (cross.kind == CROSS_WIDTH) & (cross.level == "kind")].iloc[0]
    top = original["universality"]["top_fraction_alpha"]
    record, law = loss_law(inputs)
    judged = chapter_5_verdicts(inputs)
    fraction = fraction_verdict(inputs.slopes)
    return pd.DataFrame(
        [
            _row(
                "claim",
                "loss falls as a power of N across widths",
                rung,
                f"α = {record['alpha']:.4f}, R² = {record['r_squared']:.3f}; {law.reason}; "
                f"{min(record['tokens_per_parameter']):.2g}–{max(record['tokens_per_parameter']):.2g} tokens per parameter",
                law,
                chapter="ch-language-models",
                talk=f"α = {original['language_models']['fitted_law']['alpha']:.4f}",
            ),
            _row(
                "claim",
                "importance predicts universality",
                rung,
                judged[ch05_universality.IMPORTANCE].reason
                if inputs.kind_intervals is not None
                else f"mean r = {cross.r:.3f} [{cross.r_low:.3f}, {cross.r_high:.3f}]",
                judged[ch05_universality.IMPORTANCE],
                chapter="ch-universality",
                talk=f"mean r = {reference.original_mean_r():.3f} (no interval, no control)",
            ),
            _row(
                "claim",
                "larger models store more features (top-x% exponent rises)",
                rung,
                fraction.reason,
                fraction,
                chapter="ch-universality",
                talk=f"≈{top['low']:.2f} → ≈{top['high']:.2f}, no control",
            ),
        ]
    )


def steeper(inputs: Inputs, site: str) -> verdicts.Verdict:
    """Spliced losses scale more steeply than clean ones: the slope of log(CE_spliced / CE_clean)
    against log N over the family (= α_spliced − α_clean) with its t-interval."""
    rows = inputs.sae_metrics[inputs.sae_metrics.role.str.contains("family") & (inputs.sae_metrics.site == site)]
    slope = scaling.slope_with_interval(np.log(rows[N_COLUMN]), np.log(rows.ce_clean) - np.log(rows.ce_spliced))
    difference = verdicts.Interval(slope.value, slope.low, slope.high, "the family's widths (t-interval of a least-squares slope)")
    return verdicts.steeper(difference)


def new_measurements(inputs: Inputs, site: str, tau: float, rung: str) -> pd.DataFrame:
    """Measurements the talk did not make, each with its rule, the control it was judged against and
    its answer (yes, no, inconclusive, or not measured at this rung)."""
    equal_n = inputs.equal_n
    judged = chapter_5_verdicts(inputs)
    split = ch05_universality.split_verdict(inputs.split, inputs.models.reset_index(), tau)
    slope = steeper(inputs, site)
    premise, bound = equal_n_verdicts(equal_n, equal_n)
    matched = equal_n.get("matched_loss")
    premise_matched, bound_matched = equal_n_verdicts(matched, equal_n) if matched else (_not_measured(equal_n), _not_measured(equal_n))
    rows = [
        _row(
            "measurement",
            "latents are shared across widths beyond the untrained pair (one-to-one)",
            rung,
            judged[ch05_universality.SHARED].reason,
            judged[ch05_universality.SHARED],
            "answer",
            chapter="ch-universality",
        ),
        _row(
            "measurement",
            "width changes the latents more than a language-model seed does",
            rung,
            judged[ch05_universality.WIDTH_LIKE_SEED].reason,
            judged[ch05_universality.WIDTH_LIKE_SEED],
            "answer",
            chapter="ch-universality",
        ),
        _row(
            "measurement",
            "shared latents close more of the loss gap than a random subset of the same size",
            rung,
            f"τ = {tau:g}: {split.reason}",
            split,
            "answer",
            chapter="ch-universality",
        ),
        _row("measurement", "spliced losses scale more steeply than clean ones", rung, slope.reason, slope, "answer", chapter="ch-saes"),
        _row(
            "measurement",
            "shapes of equal N reach comparable loss (chapter 7)",
            rung,
            premise.reason,
            premise,
            "answer",
            chapter="ch-equal-n",
        ),
        _row(
            "measurement",
            "latents matched across equal-N shapes fire at the rate the bound asks of the narrower site",
            rung,
            bound.reason,
            bound,
            "answer",
            chapter="ch-equal-n",
        ),
        _row(
            "measurement",
            "shapes of equal N reach comparable loss at matched loss (chapter 7: each one's snapshot nearest the worst shape's loss)",
            rung,
            premise_matched.reason,
            premise_matched,
            "answer",
            chapter="ch-equal-n",
        ),
        _row(
            "measurement",
            "at matched loss, latents matched across equal-N shapes fire at the rate the bound asks of the narrower site",
            rung,
            bound_matched.reason,
            bound_matched,
            "answer",
            chapter="ch-equal-n",
        ),
    ]
    rows += geometry_rows(inputs.geometry, rung)
    rows += planted_rows(inputs.geometry, rung)
    rows += counting_rows(inputs.counting, rung)
    for axis in (dynamics.LM_AXIS, dynamics.SAE_AXIS):
        values = dynamics.rise(inputs.r_along, axis)
        judged_axis = verdicts.Verdict(values["verdict"], verdicts.TREND_RULE, "zero slope", values["reason"])
        rows.append(
            _row(
                "measurement",
                f"r grows as the {axis} train (chapter 6)",
                rung,
                f"{' vs '.join(inputs.dynamics['pair'])}: {values['reason']}",
                judged_axis,
                "answer",
                chapter="ch-training-dynamics",
            )
        )
    return pd.DataFrame(rows)


#: Chapter 8's answers: (measurement, summary key, rule, control).
GEOMETRY_QUESTIONS = (
    (
        "the token geometry shows strong superposition (chapter 8)",
        "token_geometry",
        "yes (strong) when every trained model keeps ≥ 90% of its token rows well above zero; no (weak) when every one keeps at most "
        "2m/n of them; otherwise inconclusive",
        "the untrained models at initialisation (random rows)",
    ),
    (
        "width enters the loss as interference predicts (chapter 8)",
        "interference",
        "yes when the α_m interval of L = C/m^α_m + L∞ meets 0.87–1.10, excludes the quanta model's α_m and is narrower than the gap "
        "between them; no when it misses 0.87–1.10; otherwise inconclusive (also with R² < 0.9 or fewer than four widths)",
        "the quanta model's α_m from the corpus's Zipf exponent",
    ),
    (
        "the width–depth law explains chapter 7's loss gaps (chapter 8)",
        "gaps",
        "yes when every chapter-7 shape left out of the fit is predicted within its seed spread (at least 0.01 nats); no when one "
        "misses by more than three times that; otherwise inconclusive",
        "the seed spread of each shape",
    ),
)


#: Chapter 8's verdicts in the discussion's vocabulary (its question is "strong superposition?").
ANSWERS = {"strong": "yes", "weak": "no", "yes": "yes", "no": "no", "inconclusive": verdicts.INCONCLUSIVE}


#: Where a trained regime's r lies against the untrained toy models', as an answer to "does importance
#: predict universality more than when nothing was learned?".
BEYOND_UNTRAINED = {"above": "yes", "below": "no", "overlaps": verdicts.INCONCLUSIVE}


def planted_rows(geometry: dict[str, Any] | None, rung: str) -> list[dict]:
    """The talk's measurement on the toy models' SAEs, two rows per regime: does importance predict
    universality more than in the untrained toy models of the same widths, and are the universal
    latents the ones whose partner tracks the same true feature (neither measured before chapter 8)."""
    rows = []
    for regime in ("strong", "weak"):
        found = (geometry or {}).get("planted", {}).get(regime)
        control = (geometry or {}).get("planted", {}).get("untrained")
        name = f"importance predicts universality more than in untrained toy models, {regime} regime (chapter 8's toy SAEs)"
        rule = (
            "yes when every width pair's and SAE seed's interval of r lies above every interval of the untrained models of the same "
            "widths, no when every one lies below them, otherwise inconclusive (the first toy seed: further toy seeds are not read)"
        )
        if found is None or control is None or "against_untrained" not in found:
            judged = verdicts.Verdict(verdicts.NOT_MEASURED, rule, "untrained toy models of the same widths", "not measured at this rung")
        else:
            reason = f"r {found['r_min']:.2f} to {found['r_max']:.2f}; untrained {control['r_min']:.2f} to {control['r_max']:.2f}"
            judged = verdicts.Verdict(
                BEYOND_UNTRAINED[found["against_untrained"]],
                rule,
                "untrained toy models of the same widths, every SAE seed, the first toy seed only",
                reason,
            )
        rows.append(_row("measurement", name, rung, judged.reason, judged, "answer", chapter="ch-geometry", reads_corpus=False))
        name = f"universal latents are those that recover the same true feature, {regime} regime (chapter 8's toy SAEs)"
        rule = (
            "yes when every width pair's interval of r(universality, partner tracks the same true feature) lies above 0, no when "
            "every one lies below 0, otherwise inconclusive"
        )
        if found is None:
            judged = verdicts.Verdict(verdicts.NOT_MEASURED, rule, "the truth: the toy model's own features", "not measured at this rung")
        else:
            reason = (
                f"r(importance, universality) {found['r_min']:.2f} to {found['r_max']:.2f}; "
                f"{found['same_feature_share']:.0%} of latents' partners track the same true feature"
            )
            judged = verdicts.Verdict(
                ANSWERS.get(found["universal_track_same"], found["universal_track_same"]), rule, "the truth: the toy model's own features", reason
            )
        rows.append(_row("measurement", name, rung, judged.reason, judged, "answer", chapter="ch-geometry", reads_corpus=False))
    return rows


def geometry_rows(geometry: dict[str, Any] | None, rung: str) -> list[dict]:
    """Chapter 8's three answers as rows of the new-measurements table (not measured for a rung
    whose results predate chapter 8)."""
    rows = []
    for name, key, rule, control in GEOMETRY_QUESTIONS:
        if geometry is None:
            judged = verdicts.Verdict(verdicts.NOT_MEASURED, rule, control, "chapter 8 did not run at this rung")
        else:
            answer = ANSWERS.get(geometry[key]["verdict"], geometry[key]["verdict"])
            judged = verdicts.Verdict(answer, rule, control, geometry[key]["reason"])
        rows.append(_row("measurement", name, rung, judged.reason, judged, "answer", chapter="ch-geometry"))
    return rows


#: Chapter 9's answers: (measurement, summary key, error or None, rule, control).
COUNTING_QUESTIONS = (
    (
        "larger models need more latents for the same reconstruction (chapter 9: n* at a normalised MSE)",
        "stores_more",
        "normalised_mse",
        "yes when n*'s range for the widest width lies wholly above the narrowest's, no when wholly below; otherwise inconclusive "
        "(also when an adjacent pair of widths goes the other way, or both ranges lie beyond the same end of the sweep)",
        "every language-model seed and the SAE-seed band",
    ),
    (
        "larger models need more latents for the same spliced loss (chapter 9: n* at a loss rise)",
        "stores_more",
        "delta_ce",
        "yes when n*'s range for the widest width lies wholly above the narrowest's, no when wholly below; otherwise inconclusive "
        "(also when an adjacent pair of widths goes the other way, or both ranges lie beyond the same end of the sweep)",
        "every language-model seed and the SAE-seed band",
    ),
    (
        "larger models need more latents than untrained models of the same widths (chapter 9: the width penalty)",
        "beyond_untrained",
        None,
        "yes when the normalised MSE's growth from the narrowest to the widest width lies wholly above the untrained models' (± twice "
        "the SAE-seed band), no when wholly below; otherwise inconclusive (also when an adjacent pair of widths goes the other way)",
        "the untrained models of the same widths",
    ),
    (
        "larger models get more out of the same number of latents (chapter 9)",
        "gets_more",
        None,
        "yes when the widest width's spliced loss at the largest dictionary lies wholly below the narrowest's, no when wholly above; "
        "otherwise inconclusive (also when an adjacent pair of widths goes the other way)",
        "every language-model and SAE seed at that size",
    ),
)
#: Chapter 9's verdicts in the discussion's vocabulary.
COUNTING_ANSWERS = {"holds": "yes", "reversed": "no", "inconclusive": verdicts.INCONCLUSIVE}


def counting_rows(counting: dict[str, Any] | None, rung: str) -> list[dict]:
    """Chapter 9's answers as rows of the new-measurements table (not measured for a rung whose
    results predate chapter 9)."""
    rows = []
    for name, key, error, rule, control in COUNTING_QUESTIONS:
        if counting is None:
            judged = verdicts.Verdict(verdicts.NOT_MEASURED, rule, control, "chapter 9 did not run at this rung")
        else:
            verdict = counting[key][error] if error else counting[key]
            reason = counting[f"{key}_reason"][error] if error else counting[f"{key}_reason"]
            judged = verdicts.Verdict(COUNTING_ANSWERS[verdict], rule, control, reason)
        rows.append(_row("measurement", name, rung, judged.reason, judged, "answer", chapter="ch-counting"))
    return rows


def equal_n_verdicts(reading: dict[str, Any], equal_n: dict[str, Any]) -> tuple[verdicts.Verdict, verdicts.Verdict]:
    """Chapter 7's premise (equal N, comparable loss) and its shift verdict for one ``reading`` of
    its summary (at equal tokens: the summary itself; at matched loss: its ``matched_loss``)."""
    loss = reading["loss"]
    comparable = bool(loss["comparable"])
    bound = verdicts.Verdict(
        verdicts.bound_rate([s["verdict"] for s in reading["shifts"]], comparable),
        equal_n["rule"] + "; inconclusive whenever the shapes are not at comparable loss",
        "same-shape language-model seeds",
        "; ".join(
            f"{s['narrower']} vs {s['wider']}: {s['verdict']}"
            + (f" per site, {s['verdict_per_layer']} per layer" if "verdict_per_layer" in s else "")
            for s in reading["shifts"]
        )
        + ("" if comparable else f" (premise fails: {premise_failure(loss)})"),
    )
    premise = verdicts.Verdict(
        verdicts.YES if comparable else verdicts.NO,
        f"yes when the relative loss gap is ≤ {loss['tolerance']:.0%}"
        + (" for the shapes and for every model" if "largest_model_gap" in loss else "")
        + ", otherwise no",
        "same-shape language-model seeds",
        f"{', '.join(equal_n['shapes'])}: largest gap {loss['gap_nats']:.3f} nats = {loss['relative_gap']:.1%} "
        f"(seeds of one shape: up to {loss['seed_spread_nats']:.3f})"
        + (f"; {loss['farthest_model']} {loss['largest_model_gap']:.1%} from the common loss" if "largest_model_gap" in loss else ""),
    )
    return premise, bound


def premise_failure(loss: dict[str, Any]) -> str:
    """Why chapter 7's premise failed: the shapes' losses too far apart, or (at matched loss) one model
    too far from the common loss although the shapes' means agree."""
    if loss["relative_gap"] > loss["tolerance"] or "largest_model_gap" not in loss:
        return f"losses {loss['relative_gap']:.0%} apart"
    return f"{loss['farthest_model']} {loss['largest_model_gap']:.1%} from the common loss"


def _not_measured(equal_n: dict[str, Any]) -> verdicts.Verdict:
    return verdicts.Verdict(
        verdicts.NOT_MEASURED, equal_n["rule"], "same-shape language-model seeds", "chapter 7 did not read matched loss at this rung"
    )


def pair_premise(inputs: Inputs, lm_cfg: LanguageModelsConfig) -> PairPremise:
    """Chapter 3's equal-N pair's loss gap against its seed control's."""
    losses = inputs.models.final_val_loss
    deep, wide = (model_name(layers, width) for layers, width in (lm_cfg.pair_a, lm_cfg.pair_b))
    pair_gap = loss_gap(losses[deep], losses[wide])
    seed_gap = float(model_suite.seed_gaps(inputs.models.reset_index()).gap.mean())
    aspect_factor = (lm_cfg.pair_b[1] / lm_cfg.pair_b[0]) / (lm_cfg.pair_a[1] / lm_cfg.pair_a[0])
    return PairPremise(aspect_factor, pair_gap, seed_gap, verdicts.equal_loss(pair_gap, seed_gap))


def differences_table(inputs: Inputs, lm_cfg: LanguageModelsConfig, sae_cfg: SAEsConfig, u_cfg: UniversalityConfig, preset: str) -> pd.DataFrame:
    """One row per setting where this run and the original differ."""
    original = reference.original_run()
    lm_original, sae_original, u_original = original["language_models"], original["saes"], original["universality"]
    stat_tokens = u_cfg.stat_windows * sae_cfg.sae_context
    return pd.DataFrame(
        [
            ("corpus", inputs.corpus["description"], lm_original["corpus"]),
            ("training tokens per model", sci(lm_cfg.train_tokens), sci(lm_original["train_tokens"])),
            ("widths (d_model)", ", ".join(map(str, lm_cfg.widths)), ", ".join(map(str, lm_original["widths"]))),
            ("layers", str(lm_cfg.n_layers), str(lm_original["n_layers"])),
            ("context (tokens)", str(lm_cfg.n_ctx), str(lm_original["context"])),
            ("vocabulary", f"{lm_cfg.d_vocab:,}", f"{lm_original['vocabulary']:,}"),
            ("SAE site analysed", u_cfg.analysis_site, sae_original["hook"]),
            (
                "SAE architecture and latents",
                f"{sae_cfg.architecture}, {sae_cfg.d_sae:,}",
                f"{sae_original['architecture']}, {sae_original['d_sae']:,}",
            ),
            ("SAE training tokens", sci(sae_cfg.sae_training_tokens), sci(sae_original["training_tokens"])),
            ("tokens for the statistics", sci(stat_tokens), sci(u_original["eval_tokens"])),
            ("SAEs per model at the analysed site", f"{u_cfg.sae_seeds} (different seeds)", "1"),
            ("windows for the statistics", "held-out (validation split)", "random windows of the training split"),
            (f"SAE learning-rate decay (final {sae_cfg.lr_decay_fraction:.0%} of steps)", "to a tenth", "to 0"),
            ("language-model dropout", "none", "0.1"),
            ("dead latents", "left out" if not u_cfg.epsilon else "original arithmetic", "pseudo-count: universality ≈ 1"),
            ("clustered latents removed", "none", ", ".join(map(str, u_original["clustered_latents_dropped"]))),
        ],
        columns=["", f"this run ({preset})", "original"],
    )
