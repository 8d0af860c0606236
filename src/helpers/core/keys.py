"""Cache keys: every cached stage (tokens, models, SAEs, activation windows) is named by one.

A key is the leading hex digits of the sha256 of what determines the stage's content: a JSON list
of its inputs (settings as dictionaries, the keys of the stages it reads, a recipe version), or raw
bytes for data. The same inputs give the same key on every machine and in every process count.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

#: Hex digits of a key: 48 bits, far from collisions among a run's few hundred stages.
KEY_LENGTH = 12


def cache_key(inputs: list[Any] | bytes, length: int = KEY_LENGTH, *, sort_keys: bool = True) -> str:
    """The first ``length`` hex digits of sha256 over ``inputs`` (bytes as they are, anything else as
    JSON with dictionary keys sorted). ``sort_keys=False`` keeps the untrained models' keys, which were
    made with dictionary keys in field order, unchanged (they name cached folders and results rows)."""
    payload = inputs if isinstance(inputs, bytes) else json.dumps(inputs, sort_keys=sort_keys).encode()
    return hashlib.sha256(payload).hexdigest()[:length]
