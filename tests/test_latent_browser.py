"""The latent browser: which latents it keeps, the contexts it cuts, and the page it writes."""

import json
import re
from types import SimpleNamespace

import numpy as np
import torch

from helpers.chapters.latent_browser import chosen_latents, contexts
from helpers.publish.latent_browser import RESULTS_FILE, SITE_FOLDER, link, write_from_results, write_site


def test_chosen_latents_spread_over_importance_and_keep_the_required():
    importance = np.array([5.0, 0.0, 3.0, 9.0, 1.0, 7.0, 2.0, 4.0])
    live = importance > 0
    everything = chosen_latents(importance, live, limit=10, required=set())
    assert everything.tolist() == [3, 5, 0, 7, 2, 6, 4]  # every live latent, most important first
    # three of seven ranked latents: first, middle and last of the ranking (9, 4 and 1)
    assert chosen_latents(importance, live, limit=3, required=set()).tolist() == [3, 7, 4]
    # a required latent joins them; a required dead one does not
    assert chosen_latents(importance, live, limit=3, required={6, 1}).tolist() == [3, 7, 6, 4]


class CharacterTokenizer:
    """Token i is the character chr(ord('a') + i): decoding is joining."""

    def decode(self, ids):
        return "".join(chr(ord("a") + i) for i in ids)


def test_contexts_stay_inside_their_window():
    windows = torch.arange(20).reshape(2, 10)  # two windows: "abcdefghij" and "klmnopqrst"
    suite = SimpleNamespace(windows=windows, data=SimpleNamespace(tokenizer=CharacterTokenizer()))
    positions, values = np.array([12, 9, 5, -1]), np.array([3.0, 2.0, 1.25, 0.0])
    assert contexts(suite, positions, values, before=4, after=2) == [
        ["kl", "m", "no", 3.0],  # window 2 starts at token 10: two tokens before, not four
        ["fghi", "j", "", 2.0],  # the last token of window 1: nothing after it
        ["bcde", "f", "gh", 1.25],
    ]  # the padded −1 ends the list


def test_the_page_holds_the_record_and_nothing_from_outside(tmp_path):
    record = {"preset": "smoke", "saes": [{"key": "L8-d32/0"}], "latents": {"L8-d32/0": [{"id": 3, "contexts": [["a", "⏎b", "c", 1.0]]}]}}
    page = write_site(record, tmp_path / "site" / SITE_FOLDER)
    folder = page.parent
    assert sorted(p.name for p in folder.iterdir()) == ["browser.css", "browser.js", "data.js", "index.html", "latents.json"]
    assert json.loads((folder / "latents.json").read_text()) == record
    data = (folder / "data.js").read_text()
    assert data.startswith("window.LATENT_BROWSER = ") and json.loads(data.removeprefix("window.LATENT_BROWSER = ").rstrip().rstrip(";")) == record
    for name in ("index.html", "browser.js", "browser.css"):  # nothing fetched, nothing from another host
        text = (folder / name).read_text()
        assert not re.search(r"""(src|href)=["']?https?:|url\(["']?https?:|fetch\(|XMLHttpRequest|@import""", text), name
    results = tmp_path / "results"
    results.mkdir()
    assert write_from_results(results, tmp_path / "other") is None and not (tmp_path / "other").exists()
    (results / RESULTS_FILE).write_text(json.dumps(record))
    assert write_from_results(results, tmp_path / "other") == tmp_path / "other" / SITE_FOLDER / "index.html"


def test_latent_names_link_to_their_cards():
    assert link("L8-d96 #123") == '<a href="../latents/index.html#L8-d96/123">L8-d96 #123</a>'
    assert link("L8-d64-seed1 #7", page="latents/index.html") == '<a href="latents/index.html#L8-d64-seed1/7">L8-d64-seed1 #7</a>'
    assert link("–") == "–" and link("L8-d96") == "L8-d96"
