"""Cache keys (``helpers.core.keys``) against sha256 computed by hand, and the stages' keys against
the payloads they document: a key that changed would silently orphan every cached stage."""

from __future__ import annotations

import dataclasses
import hashlib
import json

import torch

from helpers.chapters.universality_suite import windows_key
from helpers.core.keys import cache_key
from helpers.lm.family import ModelShape
from helpers.lm.training import TrainSettings, model_key
from helpers.sae.training import RECIPE_VERSION, SAESettings, sae_key


def test_bytes_are_hashed_as_they_are():
    assert cache_key(b"abc") == "ba7816bf8f01"  # FIPS 180-2's sha256("abc") = ba7816bf8f01cfea…
    assert cache_key(b"abc", length=16) == "ba7816bf8f01cfea"


def test_lists_are_hashed_as_json_with_sorted_dictionary_keys():
    assert cache_key([1, "a", {"b": 2, "a": 1}]) == hashlib.sha256(b'[1, "a", {"a": 1, "b": 2}]').hexdigest()[:12]
    assert cache_key([{"b": 2, "a": 1}], sort_keys=False) == hashlib.sha256(b'[{"b": 2, "a": 1}]').hexdigest()[:12]
    assert cache_key([{"b": 2, "a": 1}]) == cache_key([{"a": 1, "b": 2}])


def test_stage_keys_hash_what_they_document():
    shape, settings = ModelShape(2, 32), TrainSettings(steps=32, batch_size=8, n_ctx=64)
    payload = json.dumps([dataclasses.asdict(shape), "tok", dataclasses.asdict(settings)], sort_keys=True)
    assert model_key(shape, "tok", settings) == hashlib.sha256(payload.encode()).hexdigest()[:12]
    sae_settings = SAESettings()
    payload = json.dumps(["model", "blocks.1.hook_resid_pre", dataclasses.asdict(sae_settings), "tok", RECIPE_VERSION], sort_keys=True)
    assert sae_key("model", "blocks.1.hook_resid_pre", sae_settings, "tok") == hashlib.sha256(payload.encode()).hexdigest()[:12]
    windows = torch.tensor([[1, 2], [3, 4]])
    assert windows_key(windows) == hashlib.sha256(windows.numpy().astype("int64").tobytes()).hexdigest()[:12]
