"""The corpus comparison: two rungs whose every parameter agrees but chapter 3's corpus, read side by
side. Each measure is shown with its interval at both rungs and judged by one rule: the corpus moved
it when the two intervals are apart, and these runs cannot tell the corpora apart on it when they
overlap. Each claim of chapter 10 gets one sentence: whether its verdict is the same on both corpora.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from helpers.chapters.universality_suite import CROSS_WIDTH, UNTRAINED_PAIR
from helpers.chapters.verdicts import INCONCLUSIVE
from helpers.chapters.verdicts import NOT_MEASURED as NOT_JUDGED
from helpers.core.numbers import readable
from helpers.publish.ladder import LM, UNIVERSALITY, Rung, verdict_ladder

GEOMETRY, COUNTING = "08_geometry", "09_counting"
#: Chapters whose parameters must agree between twins (chapters 1 and 2 read no corpus, 10 reads the others).
COMPARED_CHAPTERS = (LM, "04_saes", UNIVERSALITY, "06_training_dynamics", "07_equal_n", GEOMETRY, COUNTING)
#: Parameters that say where or how a run was made, not what it measured.
NOT_COMPARED = frozenset({"preset", "runs_dir", "bundles_dir", "device", "corpus"})
APART, OVERLAP, NOT_MEASURED = "apart", "overlap", "not measured"


@dataclass(frozen=True)
class Estimate:
    """One measure at one rung: its value and the interval that covers every seed the rung has."""

    value: float
    low: float
    high: float
    text: str = ""  # how to print the value where a number is not enough (n* beyond the sweep)

    def shown(self, digits: int) -> str:
        if not np.isfinite(self.value):
            return "–"
        value = self.text or f"{self.value:.{digits}f}"
        return f"{value} [{_bound(self.low, digits)}, {_bound(self.high, digits)}]"


def _bound(value: float, digits: int) -> str:
    return readable(value) if not np.isfinite(value) or abs(value) >= 100 else f"{value:.{digits}f}"


def compare(a: Estimate, b: Estimate) -> str:
    """:data:`APART` when the two intervals do not meet, :data:`OVERLAP` when they do, and
    :data:`NOT_MEASURED` when either is missing."""
    if not all(np.isfinite([a.value, b.value])):
        return NOT_MEASURED
    return APART if a.high < b.low or b.high < a.low else OVERLAP


def corpus(rung: Rung) -> str:
    return str(rung.parameters(LM)["corpus"])


def compared_parameters(rung: Rung) -> dict[str, dict]:
    """What the twin test compares: every chapter's parameters but those in :data:`NOT_COMPARED`."""
    return {c: {k: v for k, v in rung.parameters(c).items() if k not in NOT_COMPARED} for c in COMPARED_CHAPTERS}


def twins(ladder: list[Rung]) -> list[tuple[Rung, Rung]]:
    """Pairs of rungs that ran every compared chapter, agree in every compared parameter and differ
    in their corpus, in ladder order."""
    complete = [r for r in ladder if all(r.has(c, "provenance.json") for c in COMPARED_CHAPTERS)]
    parameters = [compared_parameters(r) for r in complete]
    return [
        (a, b) for i, a in enumerate(complete) for j, b in enumerate(complete) if i < j and parameters[i] == parameters[j] and corpus(a) != corpus(b)
    ]


# --------------------------------------------------------------------------------------------
# The measures, each read from a rung's own results files.


def _kind(kind: str, statistic: str) -> Callable[[Rung], Estimate]:
    def read(rung: Rung) -> Estimate:
        table = rung.table(UNIVERSALITY, "kind_intervals")
        row = table[(table.kind == kind) & (table.statistic == statistic)]
        if row.empty:
            return Estimate(np.nan, np.nan, np.nan)
        return Estimate(float(row.value.iloc[0]), float(row.low.iloc[0]), float(row.high.iloc[0]))

    return read


def token_likeness(rung: Rung) -> Estimate:
    """Mean token-likeness of the family's latents (the cross-width SAEs at the analysed site): the
    mean over SAEs, the range over them (every LM and SAE seed)."""
    pairs = rung.table(UNIVERSALITY, "pair_summary")
    scored = pairs[(pairs.kind == CROSS_WIDTH) & (pairs.site == rung.analysis_site())]
    per_sae = scored.groupby(["scored", "scored_seed"]).mean_token_likeness.first()
    return Estimate(float(per_sae.mean()), float(per_sae.min()), float(per_sae.max()))


def rows_above_zero(rung: Rung) -> Estimate:
    """Share of token rows well above zero in the trained family's embeddings: mean and range over models."""
    table = rung.table(GEOMETRY, "token_geometry")
    trained = table[table.trained.astype(bool) & table.role.isin(["family", "seed control"])]
    share = trained.well_above_zero.astype(float)
    return Estimate(float(share.mean()), float(share.min()), float(share.max()))


def overlap_exponent(rung: Rung) -> Estimate:
    """Exponent of the centred token overlap against width (−1 for random directions), 95% t-interval."""
    found = rung.record(GEOMETRY, "summary")["overlap_scaling"]
    return Estimate(*(float(np.nan if found[k] is None else found[k]) for k in ("trained_slope", "trained_low", "trained_high")))


def width_exponent(rung: Rung) -> Estimate:
    """α_m of L = C/m^α_m + L∞ over the family and its seeds, with the fit's R² in the text."""
    law = rung.record(GEOMETRY, "summary")["width_law"]
    return Estimate(law["alpha_m"], law["alpha_low"], law["alpha_high"], f"{law['alpha_m']:.2f} (R² {law['r_squared']:.3f})")


def latents_needed(error: str, d_model: int) -> Callable[[Rung], Estimate]:
    def read(rung: Rung) -> Estimate:
        needed = rung.table(COUNTING, "needed")
        row = needed[(needed.error == error) & (needed.d_model == d_model) & (needed.k == needed.k.min())]
        if row.empty:
            return Estimate(np.nan, np.nan, np.nan)
        row = row.iloc[0]
        return Estimate(float(row.n_star), float(row.low), float(row.high), str(row.label))

    return read


@dataclass(frozen=True)
class Measure:
    name: str
    read: Callable[[Rung], Estimate]
    digits: int
    interval: str  # what the interval covers


def measures(rung: Rung) -> list[Measure]:
    """The compared measures; chapter 9's n* once per width and error of ``rung``'s family."""
    over_seeds = "95% interval over every LM seed, SAE seed and latent"
    found = [
        Measure("r(importance, universality), cross-width", _kind(CROSS_WIDTH, "r"), 3, over_seeds),
        Measure("r, untrained pair of the same widths (its floor)", _kind(UNTRAINED_PAIR, "r"), 3, over_seeds),
        Measure("partial r after log frequency and token-likeness", _kind(CROSS_WIDTH, "partial_r"), 3, over_seeds),
        Measure("mean universality, cross-width", _kind(CROSS_WIDTH, "mean_universality"), 3, over_seeds),
        Measure("mean universality, untrained pair (its floor)", _kind(UNTRAINED_PAIR, "mean_universality"), 3, over_seeds),
        Measure("mean token-likeness of the latents", token_likeness, 3, "range over the family's SAEs"),
        Measure("share of token rows well above zero", rows_above_zero, 3, "range over the trained models"),
        Measure("token-overlap exponent in width (random: −1)", overlap_exponent, 2, "95% t-interval of the slope"),
        Measure("α_m in L = C/m^α_m + L∞", width_exponent, 2, "bootstrap over LM seeds"),
    ]
    needed = rung.table(COUNTING, "needed")
    targets = {"normalised_mse": "normalised MSE", "delta_ce": "spliced-loss rise"}
    for error, words in targets.items():
        for d_model in sorted(needed[needed.error == error].d_model.unique()):
            found.append(Measure(f"n* at the {words} target, width {d_model}", latents_needed(error, int(d_model)), 0, "SAE-seed band"))
    return found


def comparison(a: Rung, b: Rung) -> pd.DataFrame:
    """One row per measure: its value and interval at both rungs, what the interval covers, and
    whether the intervals are apart (the corpus moved it) or overlap (:func:`compare`)."""
    rows = []
    for m in measures(a):
        ea, eb = m.read(a), m.read(b)
        rows.append(
            {
                "measure": m.name,
                f"{a.preset} ({corpus(a)})": ea.shown(m.digits),
                f"{b.preset} ({corpus(b)})": eb.shown(m.digits),
                "interval": m.interval,
                "intervals": compare(ea, eb),
            }
        )
    return pd.DataFrame(rows)


CHANGED, SAME, OPEN, UNJUDGED = "changed", "same", "open", "not judged"


def claim_outcome(verdict_a: str, verdict_b: str) -> str:
    """Whether the corpus changed one claim's answer: :data:`SAME` for one verdict on both corpora,
    :data:`CHANGED` for two different decided verdicts, :data:`OPEN` when one side is inconclusive, and
    :data:`UNJUDGED` when a side was not judged."""
    if pd.isna(verdict_a) or pd.isna(verdict_b) or NOT_JUDGED in (verdict_a, verdict_b):
        return UNJUDGED
    if verdict_a == verdict_b:
        return SAME
    return OPEN if INCONCLUSIVE in (verdict_a, verdict_b) else CHANGED


def claim_sentence(claim: str, verdict_a: str, verdict_b: str, corpus_a: str, corpus_b: str) -> str:
    """:func:`claim_outcome` as a sentence that names both verdicts."""
    endings = {
        UNJUDGED: "not judged at both rungs",
        SAME: f"{verdict_a} on both corpora, so the corpus did not change the answer",
        OPEN: f"{verdict_a} on {corpus_a} but {verdict_b} on {corpus_b}; one side cannot decide, so whether the corpus changes the answer is open",
        CHANGED: f"{verdict_a} on {corpus_a} but {verdict_b} on {corpus_b}, so the corpus changed the answer",
    }
    return f"{claim}: {endings[claim_outcome(verdict_a, verdict_b)]}."


def claim_outcomes(a: Rung, b: Rung) -> pd.DataFrame:
    """Every claim and new measurement of chapter 10 judged at both rungs by today's rules from their
    own results files: the claim, both verdicts, the outcome and its sentence."""
    verdicts = verdict_ladder([a, b]).rename(columns={"claim or measurement": "claim", a.preset: "a", b.preset: "b"})
    verdicts["outcome"] = [claim_outcome(va, vb) for va, vb in zip(verdicts.a, verdicts.b)]
    verdicts["sentence"] = [claim_sentence(c, va, vb, corpus(a), corpus(b)) for c, va, vb in zip(verdicts.claim, verdicts.a, verdicts.b)]
    return verdicts[["claim", "a", "b", "outcome", "sentence"]]


def summary(table: pd.DataFrame, outcomes: pd.DataFrame) -> str:
    """The section's answer in one sentence: how many measures the corpus moved, and how many claims
    it changed, left alone or left open."""
    measured = table[table.intervals != NOT_MEASURED]
    counts = outcomes.outcome.value_counts()
    judged, still_open = int(len(outcomes) - counts.get(UNJUDGED, 0)), int(counts.get(OPEN, 0))
    return (
        f"The corpus moved {int((measured.intervals == APART).sum())} of the {len(measured)} measures measured on both "
        f"(their intervals apart). Of the {judged} claims and measurements judged on both corpora, it changed the answer of "
        f"{int(counts.get(CHANGED, 0))}, left {int(counts.get(SAME, 0))} unchanged, and {still_open} "
        f"{'stays' if still_open == 1 else 'stay'} open because one side is inconclusive."
    )


def corpus_line(rung: Rung) -> str:
    """One rung's corpus in words: what it is, its size, its tokens and the Zipf exponent of their
    frequencies (with the fit's R²)."""
    record = rung.record(LM, "corpus")
    train = record["tokens"]["splits"]["train"]
    zipf = rung.record(GEOMETRY, "summary")["zipf"]
    return (
        f"`{rung.preset}` reads {record['description']}: {record['bytes'] / 1e6:.1f} MB in {record['documents']:,} documents, "
        f"{train['tokens']:,} training tokens ({train['bytes'] / train['tokens']:.2f} bytes per token); "
        f"token frequencies fall with rank with Zipf exponent {zipf['exponent']:.2f} (R² {zipf['r_squared']:.3f})"
    )


@dataclass(frozen=True)
class Section:
    """What chapter 10's corpus section shows: the twin rungs in words, each one's corpus (a bullet
    list in MyST), the measures' table, and a sentence per claim (a bullet list)."""

    rungs: str
    corpora: str
    table: pd.DataFrame
    claims: str
    answer: str


def section(ladder: list[Rung]) -> Section:
    """The corpus section for the first pair of :func:`twins` in ``ladder``, or what to say when there is none."""
    pairs = twins(ladder)
    if not pairs:
        return Section(
            "no two rungs of this book differ only in their corpus, so the question stays open",
            "- No corpus is compared.",
            pd.DataFrame({"measure": ["no two rungs differ only in their corpus"]}),
            "- No claim is judged on two corpora.",
            "No claim is judged on two corpora.",
        )
    a, b = pairs[0]
    words = f"`{a.preset}` ({corpus(a)}) and `{b.preset}` ({corpus(b)})"
    lines = "\n".join(f"- {corpus_line(r)}." for r in (a, b))
    table, outcomes = comparison(a, b), claim_outcomes(a, b)
    return Section(words, lines, table, "\n".join(f"- {sentence}" for sentence in outcomes.sentence), summary(table, outcomes))
