"""The corpus comparison: two rungs whose every parameter agrees but chapter 3's corpus, read side by
side. Each measure is shown with its interval (or range) at both rungs and judged by one rule: apart
when the two do not meet (a difference beyond what those intervals cover), overlapping otherwise.
Measures that change with width are compared width by width, since twins share their widths. Each
claim of chapter 10 gets one sentence: whether its verdict is the same on both corpora.

Each corpus has its own tokenizer (a BPE of the same size), so a measure counted in tokens compares
the text and its tokenizer together.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from helpers.chapters import geometry, verdicts
from helpers.chapters.ch10_discussion import READS_CORPUS
from helpers.chapters.universality_suite import CROSS_WIDTH, UNTRAINED_PAIR
from helpers.chapters.verdicts import INCONCLUSIVE
from helpers.chapters.verdicts import NOT_MEASURED as NOT_JUDGED
from helpers.core.numbers import readable
from helpers.publish.ladder import LM, UNIVERSALITY, Rung, json_number, verdict_ladder

GEOMETRY, COUNTING = "08_geometry", "09_counting"
#: Chapters whose parameters must agree between twins (chapters 1 and 2 read no corpus, 10 reads the others).
COMPARED_CHAPTERS = (LM, "04_saes", UNIVERSALITY, "06_training_dynamics", "07_equal_n", GEOMETRY, COUNTING)
#: The files the comparison reads; a rung lacking one is no one's twin.
READ_FILES = (
    (LM, "corpus.json"),
    (UNIVERSALITY, "kind_intervals.csv"),
    (UNIVERSALITY, "pair_summary.csv"),
    (GEOMETRY, "token_geometry.csv"),
    (GEOMETRY, "summary.json"),
    (COUNTING, "needed.csv"),
    (COUNTING, "summary.json"),
)
#: Parameters that say where or how a run was made, not what it measured.
NOT_COMPARED = frozenset({"preset", "runs_dir", "bundles_dir", "device", "corpus"})
APART, OVERLAP, NO_INTERVAL, NOT_MEASURED = "apart", "overlap", "no interval", "not measured"
#: Two ranges over a few seeds: shown, never judged (two seeds' ranges miss each other one time in three by chance).
SEED_RANGES = "seed ranges (not judged)"


@dataclass(frozen=True)
class Estimate(verdicts.Interval):
    """One measure at one rung: a verdict interval whose bounds may be NaN (no interval), or the
    range of a few seeds' values (``seed_range``), and which may print its value as text."""

    text: str = ""  # how to print the value where a number is not enough (n* beyond the sweep)
    seed_range: bool = False  # low and high are the smallest and largest seed's values, not an interval

    def shown(self, digits: int) -> str:
        if not np.isfinite(self.value):
            return "–"
        value = self.text or f"{self.value:.{digits}f}"
        if np.isnan(self.low) or np.isnan(self.high):
            return f"{value} (no interval)"
        return f"{value} [{_bound(self.low, digits)}, {_bound(self.high, digits)}]"


MISSING = Estimate(np.nan, np.nan, np.nan, "")


def _bound(value: float, digits: int) -> str:
    return readable(value) if not np.isfinite(value) or abs(value) >= 100 else f"{value:.{digits}f}"


def compare(a: Estimate, b: Estimate) -> str:
    """:data:`APART` when the two intervals do not meet, :data:`OVERLAP` when they do,
    :data:`NO_INTERVAL` when a value has none, :data:`SEED_RANGES` when either is a range over seeds
    (too few to judge by), and :data:`NOT_MEASURED` when either value is missing."""
    if not np.isfinite(a.value) or not np.isfinite(b.value):
        return NOT_MEASURED
    if np.isnan([a.low, a.high, b.low, b.high]).any():
        return NO_INTERVAL
    if a.seed_range or b.seed_range:
        return SEED_RANGES
    return APART if verdicts.above(a, b) or verdicts.above(b, a) else OVERLAP


def corpus(rung: Rung) -> str:
    return str(rung.parameters(LM)["corpus"])


def compared_parameters(rung: Rung) -> dict[str, dict]:
    """What the twin test compares: every chapter's parameters but those in :data:`NOT_COMPARED`."""
    return {c: {k: v for k, v in rung.parameters(c).items() if k not in NOT_COMPARED} for c in COMPARED_CHAPTERS}


def twins(ladder: list[Rung]) -> list[tuple[Rung, Rung]]:
    """Pairs of rungs that wrote every file the comparison reads, agree in every compared parameter
    and differ in their corpus, in ladder order."""
    complete = [r for r in ladder if all(r.has(c, "provenance.json") for c in COMPARED_CHAPTERS) and all(r.has(c, n) for c, n in READ_FILES)]
    parameters = [compared_parameters(r) for r in complete]
    return [
        (a, b) for i, a in enumerate(complete) for j, b in enumerate(complete) if i < j and parameters[i] == parameters[j] and corpus(a) != corpus(b)
    ]


# --------------------------------------------------------------------------------------------
# The measures, each read from a rung's own results files.


def _kind(kind: str, statistic: str) -> Callable[[Rung], Estimate]:
    """A row of chapter 5's ``kind_intervals``: the statistic pooled over the kind's SAE pairs."""

    def read(rung: Rung) -> Estimate:
        table = rung.table(UNIVERSALITY, "kind_intervals")
        rows = table[(table.kind == kind) & (table.statistic == statistic)]
        if rows.empty:
            return MISSING
        row = rows.iloc[0]
        covered = ([f"LM seeds ({int(row.lm_seeds)} per width)"] if row.lm_seeds > 1 else []) + (
            ["SAE seeds"] if row.sae_pairs > row.model_pairs else []
        )
        return Estimate(json_number(row.value), json_number(row.low), json_number(row.high), "95%: " + ", ".join([*covered, "latents"]))

    return read


def family_geometry(rung: Rung) -> pd.DataFrame:
    """Chapter 8's token-geometry rows of the trained width family and its seeds (the family's depth)."""
    return geometry.trained_family(rung.table(GEOMETRY, "token_geometry"), rung.parameters(LM)["n_layers"])


def _range(values: pd.Series, covers: str) -> Estimate:
    """The mean of the finite ``values`` and their range over seeds; no range from a single value."""
    values = values.astype(float).dropna()
    if len(values) < 2:
        return Estimate(float(values.mean()), np.nan, np.nan, covers) if len(values) else MISSING
    return Estimate(float(values.mean()), float(values.min()), float(values.max()), covers, seed_range=True)


def token_likeness(d_model: int, kind: str = CROSS_WIDTH) -> Callable[[Rung], Estimate]:
    """Mean token-likeness of one width's latents: one value per SAE of that width at the analysed
    site (each LM and SAE seed), their mean and range; ``kind`` :data:`UNTRAINED_PAIR` reads the
    untrained models of that width (the floor set by the tokenizer alone)."""

    def read(rung: Rung) -> Estimate:
        pairs = rung.table(UNIVERSALITY, "pair_summary")
        rows = pairs[(pairs.kind == kind) & (pairs.site == rung.analysis_site()) & (pairs.d_model == d_model)]
        per_sae = rows.groupby(["scored", "scored_seed"]).mean_token_likeness.first()
        return _range(per_sae, "range over the width's SAEs")

    return read


def rows_above_zero(d_model: int) -> Callable[[Rung], Estimate]:
    """Share of token rows well above zero in one width's trained embeddings: mean and range over its LM seeds."""

    def read(rung: Rung) -> Estimate:
        rows = family_geometry(rung)
        return _range(rows[rows.d_model == d_model].well_above_zero, "range over LM seeds")

    return read


def overlap_exponent(models: str) -> Callable[[Rung], Estimate]:
    """Exponent of the centred token overlap against width (−1 for random directions), 95% t-interval,
    of the ``models`` ("trained" or "untrained") of the family."""

    def read(rung: Rung) -> Estimate:
        found = rung.record(GEOMETRY, "summary").get("overlap_scaling", {})
        value, low, high = (json_number(found.get(f"{models}_{k}")) for k in ("slope", "low", "high"))
        return Estimate(value, low, high, "95% t-interval of the slope over the family's models")

    return read


def width_exponent(rung: Rung) -> Estimate:
    """α_m of L = C/m^α_m + L∞ over the family and its seeds, with the fit's R² in the text."""
    law = rung.record(GEOMETRY, "summary").get("width_law") or {}
    alpha, r_squared = json_number(law.get("alpha_m")), json_number(law.get("r_squared"))
    fit = f"{r_squared:.3f}" if np.isfinite(r_squared) else "–"
    text = f"{alpha:.2f} (R² {fit})" if np.isfinite(alpha) else ""
    return Estimate(alpha, json_number(law.get("alpha_low")), json_number(law.get("alpha_high")), str(law.get("interval", "")), text)


def latents_needed(error: str, d_model: int) -> Callable[[Rung], Estimate]:
    """Chapter 9's n* of one width at one target, at the k its verdicts read."""

    def read(rung: Rung) -> Estimate:
        needed, k = rung.table(COUNTING, "needed"), rung.record(COUNTING, "summary")["k"]
        rows = needed[(needed.error == error) & (needed.d_model == d_model) & (needed.k == k)]
        if rows.empty:
            return MISSING
        row = rows.iloc[0]
        covers = "range over LM seeds, each widened by the SAE-seed band (0 and ∞: outside the sweep)"
        return Estimate(json_number(row.n_star), json_number(row.low), json_number(row.high), covers, str(row.label), seed_range=True)

    return read


@dataclass(frozen=True)
class Measure:
    name: str
    read: Callable[[Rung], Estimate]
    digits: int


def measures(rung: Rung) -> list[Measure]:
    """The compared measures; those that change with width once per width of ``rung``'s family."""
    widths = [int(w) for w in rung.family().d_model]
    found = [
        Measure("r(importance, universality), cross-width", _kind(CROSS_WIDTH, "r"), 3),
        Measure("r, untrained pair of the same widths (its floor)", _kind(UNTRAINED_PAIR, "r"), 3),
        Measure("partial r after log frequency and token-likeness", _kind(CROSS_WIDTH, "partial_r"), 3),
        Measure("mean universality, cross-width", _kind(CROSS_WIDTH, "mean_universality"), 3),
        Measure("mean universality, untrained pair (its floor)", _kind(UNTRAINED_PAIR, "mean_universality"), 3),
    ]
    found += [Measure(f"mean token-likeness of the latents, width {w}", token_likeness(w), 3) for w in widths]
    found += [Measure(f"mean token-likeness, untrained model of width {w} (its floor)", token_likeness(w, UNTRAINED_PAIR), 3) for w in widths]
    found += [Measure(f"share of token rows well above zero, width {w}", rows_above_zero(w), 3) for w in widths]
    found += [
        Measure("token-overlap exponent in width (random: −1)", overlap_exponent("trained"), 2),
        Measure("token-overlap exponent, untrained models (its floor)", overlap_exponent("untrained"), 2),
        Measure("α_m in L = C/m^α_m + L∞", width_exponent, 2),
    ]
    for error, words in (("normalised_mse", "normalised MSE"), ("delta_ce", "spliced-loss rise")):
        found += [Measure(f"n* at the {words} target, width {w}", latents_needed(error, w), 0) for w in widths]
    return found


def comparison(a: Rung, b: Rung) -> pd.DataFrame:
    """One row per measure: its value and interval at both rungs, what the intervals cover, and
    whether they are apart (:func:`compare`)."""
    rows = []
    for m in measures(a):
        ea, eb = m.read(a), m.read(b)
        covers = ea.covers if ea.covers == eb.covers or not eb.covers else f"{a.preset}: {ea.covers}; {b.preset}: {eb.covers}"
        rows.append(
            {
                "measure": m.name,
                f"{a.preset} ({corpus(a)})": ea.shown(m.digits),
                f"{b.preset} ({corpus(b)})": eb.shown(m.digits),
                "interval": covers,
                "intervals": compare(ea, eb),
            }
        )
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------------------------
# The claims.

CHANGED, SAME, UNDECIDED, OPEN, UNJUDGED = "changed", "same", "undecided", "open", "not judged"
NO_CORPUS = "reads no corpus"


def claim_outcome(verdict_a: str, verdict_b: str) -> str:
    """Whether the corpus changed one claim's answer: :data:`SAME` for one decided verdict on both
    corpora, :data:`CHANGED` for two different decided verdicts, :data:`UNDECIDED` when both are
    inconclusive, :data:`OPEN` when one is, and :data:`UNJUDGED` when a side was not judged."""
    if any(pd.isna(v) or v == NOT_JUDGED for v in (verdict_a, verdict_b)):
        return UNJUDGED
    if verdict_a == verdict_b:
        return UNDECIDED if verdict_a == INCONCLUSIVE else SAME
    return OPEN if INCONCLUSIVE in (verdict_a, verdict_b) else CHANGED


def claim_sentence(claim: str, verdict_a: str, verdict_b: str, rung_a: str, rung_b: str, reads_corpus: bool = True) -> str:
    """:func:`claim_outcome` as a sentence that names both verdicts (``rung_a``/``rung_b`` name the
    rungs by their corpora); a claim whose models read no corpus is said to lie outside the comparison."""
    if not reads_corpus:
        return f"{claim}: its models read no corpus (they train on synthetic features), so the corpus cannot change it."
    outcome = claim_outcome(verdict_a, verdict_b)
    if outcome == UNJUDGED:
        missing = [r for v, r in ((verdict_a, rung_a), (verdict_b, rung_b)) if pd.isna(v) or v == NOT_JUDGED]
        return f"{claim}: not judged on {' or '.join(missing)}, so the corpora cannot be compared on it."
    endings = {
        SAME: f"{verdict_a} on both corpora, so the answer does not depend on the corpus at this scale",
        UNDECIDED: f"{verdict_a} on both corpora, so these runs cannot test whether the corpus changes it",
        OPEN: f"{verdict_a} on {rung_a} but {verdict_b} on {rung_b}; one side cannot decide, so whether the corpus changes the answer is open",
        CHANGED: f"{verdict_a} on {rung_a} but {verdict_b} on {rung_b}, so the answer changed with the corpus (and its tokenizer)",
    }
    return f"{claim}: {endings[outcome]}."


def claim_outcomes(a: Rung, b: Rung) -> pd.DataFrame:
    """Every claim and new measurement of chapter 10 judged at both rungs by today's rules from their
    own results files: the claim, both verdicts, the outcome and its sentence."""
    ladder = verdict_ladder([a, b])
    rows = zip(ladder["claim or measurement"], ladder[a.preset], ladder[b.preset], ladder[READS_CORPUS].astype(bool))
    return pd.DataFrame(
        [
            {
                "claim": claim,
                "a": va,
                "b": vb,
                "outcome": claim_outcome(va, vb) if reads else NO_CORPUS,
                "sentence": claim_sentence(claim, va, vb, corpus(a), corpus(b), reads),
            }
            for claim, va, vb, reads in rows
        ],
        columns=["claim", "a", "b", "outcome", "sentence"],
    )


def summary(table: pd.DataFrame, outcomes: pd.DataFrame) -> str:
    """The section's answer in one sentence: how many measures lie apart, and how many claims the
    corpus changed, left alone, or left undecided."""
    compared = table[table.intervals.isin([APART, OVERLAP])]
    counts = outcomes.outcome.value_counts()
    judged = int(len(outcomes) - counts.get(UNJUDGED, 0) - counts.get(NO_CORPUS, 0))
    undecided = int(counts.get(OPEN, 0) + counts.get(UNDECIDED, 0))
    return (
        f"{int((compared.intervals == APART).sum())} of the {len(compared)} measures with an interval on both corpora lie apart "
        f"(a difference beyond what their intervals cover; seed ranges are shown but not judged). Of the {judged} claims and "
        f"measurements judged on both, the corpus changed the answer of {int(counts.get(CHANGED, 0))} and left "
        f"{int(counts.get(SAME, 0))} unchanged; {undecided} "
        f"{'is' if undecided == 1 else 'are'} inconclusive on one corpus or both, so these runs cannot say."
    )


# --------------------------------------------------------------------------------------------
# Chapter 10's section.


def corpus_line(rung: Rung) -> str:
    """One rung's corpus in words: what it is, its size, its tokens and the Zipf exponent of their
    frequencies (with the fit's R²)."""
    record = rung.record(LM, "corpus")
    train = record["tokens"]["splits"]["train"]
    zipf = rung.record(GEOMETRY, "summary").get("zipf") or {}
    exponent, r_squared = json_number(zipf.get("exponent")), json_number(zipf.get("r_squared"))
    return (
        f"`{rung.preset}` reads {record['description']}: {record['bytes'] / 1e6:.1f} MB in {record['documents']:,} documents, "
        f"{train['tokens']:,} training tokens ({train['bytes'] / train['tokens']:.2f} bytes per token); "
        f"token frequencies fall with rank with Zipf exponent {exponent:.2f} (R² {r_squared:.3f})"
    )


@dataclass(frozen=True)
class Section:
    """What chapter 10's corpus section shows, each part as MyST: the lead paragraph, each corpus (a
    bullet list), the measures' table, a sentence per claim (a bullet list) and the answer."""

    lead: str
    corpora: str
    table: pd.DataFrame
    claims: str
    answer: str


LEAD = (
    "Two rungs that agree in every parameter but the corpus can say whether, at their one scale, the answers depend on the "
    "text: here {pair}{more}. {{numref}}`tab-corpora` sets each measure beside its twin with its interval, or its range "
    "where it is one over a few seeds (shown, not judged: two seeds' ranges miss each other one time in three by chance), "
    "and beside its untrained floor where the tokenizer alone sets one; the measures that change with width are compared "
    "width by width. Two intervals apart mean a difference beyond what they cover. The rule is strict: intervals that meet "
    "can still differ, so an overlap means only that these runs do not separate the corpora, never that they agree. Each corpus has its "
    "own tokenizer (a BPE of the same size), so the measures counted in tokens (token-likeness, the token geometry, the "
    "Zipf exponent, the spliced loss in nats per token) compare the text and its tokenizer together. Below the table, each "
    "claim and new measurement of the tables above, judged at both rungs by the same rules:"
)


def section(ladder: list[Rung]) -> Section:
    """The corpus section for the first pair of :func:`twins` in ``ladder``, or what to say when there is none."""
    pairs = twins(ladder)
    if not pairs:
        return Section(
            "No two rungs of this book agree in every parameter but the corpus, so the question stays open here: the table "
            "and the list below are empty.",
            "- No corpus is compared.",
            pd.DataFrame({"measure": ["no two rungs differ only in their corpus"]}),
            "- No claim is judged on two corpora.",
            "no claim is judged on two corpora.",
        )
    a, b = pairs[0]
    more = f" (the first of {len(pairs)} such pairs)" if len(pairs) > 1 else ""
    lead = LEAD.format(pair=f"`{a.preset}` ({corpus(a)}) and `{b.preset}` ({corpus(b)})", more=more)
    table, outcomes = comparison(a, b), claim_outcomes(a, b)
    lines = "\n".join(f"- {corpus_line(r)}." for r in (a, b))
    return Section(lead, lines, table, "\n".join(f"- {sentence}" for sentence in outcomes.sentence), summary(table, outcomes))
