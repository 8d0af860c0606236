"""Chapter 5's latent browser: what a reader needs to judge one latent, for a bounded set of latents of
every trained model's first SAE at the analysed site.

Per latent: its importance (maximum activation over the SAE's largest), firing frequency and
token-likeness with the token it is most like; the tokens its decoder direction promotes; a histogram of
its non-zero activations; its top-activating contexts, the activating token marked, with tokens on
both sides; and, in every other SAE it was compared with (another width, another SAE seed, another
language-model seed of its width), its best match and its one-to-one partner with their correlations,
and every compared SAE's latents' strongest tokens, so that a match without a card is still legible.
The page itself is written by :mod:`helpers.publish.latent_browser` from this JSON-ready record.

Size bound: at most ``browser_latents`` live latents per SAE, spread evenly over the importance ranking
(plus the latents chapter 5's example table names); dead latents, the SAEs of untrained models and
the second SAE seed's own latents are left out (the second seed still appears as a match).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import torch

from helpers.chapters import universality_suite as suite_
from helpers.universality.activations import activation_histograms, top_by_latent

#: The comparisons whose matches a latent's card lists.
MATCH_KINDS = (suite_.CROSS_WIDTH, suite_.SAE_SEED, suite_.SEED_CONTROL)
#: Bins of each latent's activation histogram, from 0 to its maximum.
HISTOGRAM_BINS = 16
#: Significant digits kept for every number in the record (it is read, not recomputed).
DIGITS = 4


def sae_key(model: str, seed: int) -> str:
    """The browser's name of one SAE: ``<model>/<SAE seed>``."""
    return f"{model}/{seed}"


def browsed_saes(suite: suite_.Suite, latents: pd.DataFrame) -> list[tuple[str, int]]:
    """(model, SAE seed) of every trained model's first SAE scored against another width or seed
    at the analysed site, narrowest model first."""
    site = suite.cfg.analysis_site
    scored = latents[(latents.site == site) & latents.kind.isin([suite_.CROSS_WIDTH, suite_.SEED_CONTROL])]
    models = sorted(scored.scored.unique(), key=lambda m: (int(suite.row(m, site).d_model), m))
    return [(m, suite.seeds(m, site)[0]) for m in models]


def chosen_latents(importance: np.ndarray, live: np.ndarray, limit: int, required: set[int]) -> np.ndarray:
    """Indices of at most ``limit`` live latents spread evenly over the importance ranking (every
    live one when there are fewer), plus ``required``; sorted by importance, largest first.
    ``importance``, ``live``: (n_latents,)."""
    ranked = np.flatnonzero(live)[np.argsort(-importance[live], kind="stable")]
    if len(ranked) > limit:
        ranked = ranked[np.unique(np.linspace(0, len(ranked) - 1, limit).round().astype(int))]
    chosen = set(ranked.tolist()) | {i for i in required if live[i]}
    return np.array(sorted(chosen, key=lambda i: (-importance[i], i)), dtype=np.int64)


def contexts(suite: suite_.Suite, positions: np.ndarray, values: np.ndarray, before: int, after: int) -> list[list]:
    """[text before, token, text after, activation] for each valid position (−1 marks padding),
    never crossing its window's edges; newlines shown as ⏎."""
    context = suite.windows.shape[1]
    tokens = suite.windows.reshape(-1).tolist()
    decode = suite.data.tokenizer.decode
    out = []
    for position, value in zip(positions.tolist(), values.tolist()):
        if position < 0:
            break
        window = (position // context) * context
        start, stop = max(position - before, window), min(position + 1 + after, window + context)
        parts = [decode(tokens[start:position]), decode([tokens[position]]), decode(tokens[position + 1 : stop])]
        out.append([p.replace("\n", "⏎") for p in parts] + [_round(value)])
    return out


def browser_record(suite: suite_.Suite, latents: pd.DataFrame, examples: pd.DataFrame) -> dict[str, Any]:
    """The latent browser's record (JSON-ready). ``latents``: chapter 5's latent table over every
    replicate; ``examples``: its example table, whose latents are always included."""
    cfg, site = suite.cfg, suite.cfg.analysis_site
    saes = browsed_saes(suite, latents)
    required = _example_latents(examples)
    token_likeness = latents[(latents.site == site) & (latents.kind == suite_.TOKEN_IDENTITY)]
    matches = latents[(latents.site == site) & latents.kind.isin(MATCH_KINDS)]
    record: dict[str, Any] = {
        "preset": cfg.preset,
        "site": site,
        "statistics_tokens": int(suite.windows.numel()),
        "window": int(suite.windows.shape[1]),
        "match_threshold": cfg.match_threshold,
        "limit": cfg.browser_latents,
        "saes": [],
        "latents": {},
    }
    tops: dict[str, tuple[np.ndarray, np.ndarray]] = {}  # per SAE: its latents' top activations, found once
    for model, seed in saes:
        acts = suite.activations[(model, site, seed)]
        own = token_likeness[(token_likeness.scored == model) & (token_likeness.scored_seed == seed)].set_index("latent")
        live = ~own.dead.reindex(range(acts.n_latents)).fillna(True).to_numpy(bool)
        importance = own.importance.reindex(range(acts.n_latents)).fillna(0).to_numpy(float)
        chosen = chosen_latents(importance, live, cfg.browser_latents, required.get(model, set()))
        positions, values = tops[sae_key(model, seed)] = top_by_latent(acts, cfg.browser_contexts)
        counts, maxima = activation_histograms(acts, HISTOGRAM_BINS)
        compared = matches[(matches.scored == model) & (matches.scored_seed == seed)]
        by_other = {key: g.set_index("latent") for key, g in compared.groupby(["kind", "against", "against_seed"], sort=True)}
        row = suite.row(model, site, seed)
        record["saes"].append(
            {
                "key": sae_key(model, seed),
                "model": model,
                "sae_seed": int(seed),
                "d_model": int(row.d_model),
                "d_sae": int(acts.n_latents),
                "live": int(live.sum()),
                "shown": len(chosen),
                "compared_with": [{"kind": k, "sae": sae_key(m, s)} for k, m, s in by_other],
            }
        )
        token_ids = own.match.reindex(range(acts.n_latents)).fillna(-1).astype(int).to_numpy()
        promoted = promoted_tokens(suite, model, chosen)
        record["latents"][sae_key(model, seed)] = [
            {
                "id": int(i),
                "importance": _round(importance[i]),
                "frequency": _round(own.frequency[i]),
                "token_likeness": _round(own.token_likeness[i]),
                "likeness_token": suite.data.tokenizer.decode([int(token_ids[i])]).replace("\n", "⏎") if token_ids[i] >= 0 else None,
                "histogram": {"max": _round(maxima[i]), "counts": counts[i].tolist()},
                "promotes": promoted[i],
                "contexts": contexts(suite, positions[i], values[i], cfg.browser_tokens, max(cfg.browser_tokens // 4, 1)),
                "matches": [
                    [kind, sae_key(m, s), int(g.match[i]), _round(g.universality[i]), int(g.partner[i]), _round(g.one_to_one[i])]
                    for (kind, m, s), g in by_other.items()
                ],
            }
            for i in chosen
        ]
    keys = sorted({m for sae in record["saes"] for m in [sae["key"], *(c["sae"] for c in sae["compared_with"])]})
    record["top_tokens"] = top_tokens(suite, keys, tops)
    return record


#: Tokens listed per latent as the ones its decoder direction promotes most.
PROMOTED = 6


@torch.no_grad()
def promoted_tokens(suite: suite_.Suite, model: str, latents: np.ndarray) -> dict[int, list[str]]:
    """Each latent's decoder direction read through the unembedding (W_dec · W_U, no final layer
    norm: the direct logit effect), its :data:`PROMOTED` highest tokens, strongest first."""
    decoder = suite.sae(model, suite.cfg.analysis_site).W_dec[torch.as_tensor(latents)]  # (k, d_model)
    unembed = suite.hooked(model).W_U  # (d_model, d_vocab)
    top = (decoder.to(unembed) @ unembed).topk(PROMOTED, dim=-1).indices.cpu().tolist()
    decode = suite.data.tokenizer.decode
    return {int(i): [decode([t]).replace("\n", "⏎") for t in row] for i, row in zip(latents, top)}


def top_tokens(suite: suite_.Suite, keys: list[str], tops: dict[str, tuple[np.ndarray, np.ndarray]]) -> dict[str, list[str | None]]:
    """For each SAE named ``<model>/<seed>``, every latent's strongest token (None for a dead latent):
    enough to tell what a match is without its own card. ``tops``: the SAEs' top activations already
    found (:func:`top_by_latent`, by key); the others are found here."""
    site, tokens, out = suite.cfg.analysis_site, suite.windows.reshape(-1).tolist(), {}
    for key in keys:
        model, seed = key.rsplit("/", 1)
        positions = tops[key][0] if key in tops else top_by_latent(suite.activations[(model, site, int(seed))], 1)[0]
        out[key] = [suite.data.tokenizer.decode([tokens[p]]).replace("\n", "⏎") if p >= 0 else None for p in positions[:, 0].tolist()]
    return out


def _example_latents(examples: pd.DataFrame) -> dict[str, set[int]]:
    """Model → the latents chapter 5's example table shows (its own and its best matches)."""
    out: dict[str, set[int]] = {}
    for model, latent in zip(examples.get("model", []), examples.get("its latent", [])):
        out.setdefault(model, set()).add(int(latent))
    return out


def _round(value: float) -> float | None:
    """``value`` to :data:`DIGITS` significant digits; None for NaN (JSON has no NaN)."""
    value = float(value)
    return None if not np.isfinite(value) else float(f"{value:.{DIGITS}g}")
