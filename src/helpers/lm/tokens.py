"""Tokenizer and token shards: a byte-level BPE trained on the training split, and the corpus as
memory-mapped token arrays (nanoGPT style), cached under ``runs/cache/tokens/<key>/``.

The cache key hashes the corpus fingerprint, the vocabulary size and the split, so a finished
folder is reused by every preset that asks for the same tokens. A folder is built under a
temporary name and renamed into place, so an interrupted build leaves nothing half-made.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from helpers.core import atomic
from helpers.core.keys import cache_key
from helpers.lm.corpus import Corpus

EOS = "<|endoftext|>"
FORMAT_VERSION = 1


@dataclass
class TokenData:
    """A trained tokenizer and the token arrays of both splits (1-D, read-only memmaps)."""

    folder: Path
    tokenizer: Any  # transformers.PreTrainedTokenizerFast, loaded through AutoTokenizer
    train: np.ndarray
    val: np.ndarray
    meta: dict[str, Any]

    @property
    def key(self) -> str:
        return self.meta["key"]

    @property
    def vocab_size(self) -> int:
        return self.meta["vocab_size"]


def token_key(corpus: Corpus, vocab_size: int, val_fraction: float) -> str:
    return cache_key([FORMAT_VERSION, corpus.fingerprint, vocab_size, val_fraction], length=16)


def prepare_tokens(corpus: Corpus, vocab_size: int, val_fraction: float, cache_root: str | Path) -> TokenData:
    """Train the tokenizer and write both token shards, or load them if already cached."""
    key = token_key(corpus, vocab_size, val_fraction)
    folder = Path(cache_root) / "tokens" / key
    if not (folder / "meta.json").exists():
        with atomic.atomic_folder(folder) as staging:  # another process may finish the same folder meanwhile: kept
            _build(corpus, vocab_size, val_fraction, key, staging)
    return load_tokens(folder)


def load_tokens(folder: Path) -> TokenData:
    from transformers import AutoTokenizer

    meta = json.loads((folder / "meta.json").read_text())
    dtype = np.dtype(meta["dtype"])
    tokenizer = AutoTokenizer.from_pretrained(folder / "tokenizer")
    train = np.memmap(folder / "train.bin", dtype=dtype, mode="r")
    val = np.memmap(folder / "val.bin", dtype=dtype, mode="r")
    return TokenData(folder, tokenizer, train, val, meta)


def _write_tokens(bpe, documents: list[str], eos_id: int, dtype: type, path: Path, split: str, batch_documents: int = 512) -> dict[str, int]:
    """Encode ``documents`` in batches and append each batch's ids (every document ends with EOS) to
    ``path``; memory stays bounded by one batch whatever the corpus size."""
    tokens = 0
    with open(path, "wb") as out:
        for start in tqdm(
            range(0, len(documents), batch_documents), desc=f"tokenizing {split}", unit="batch", disable=len(documents) <= batch_documents
        ):
            for encoding in bpe.encode_batch(documents[start : start + batch_documents]):
                ids = np.asarray(encoding.ids + [eos_id], dtype=dtype)
                ids.tofile(out)
                tokens += ids.size
    return {"documents": len(documents), "tokens": tokens, "bytes": sum(len(d.encode("utf-8")) for d in documents)}


def _build(corpus: Corpus, vocab_size: int, val_fraction: float, key: str, folder: Path) -> None:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    train_docs, val_docs = corpus.split(val_fraction)
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[EOS],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    bpe.train_from_iterator(train_docs, trainer=trainer)
    wrapped = PreTrainedTokenizerFast(tokenizer_object=bpe, eos_token=EOS, bos_token=EOS, unk_token=EOS, pad_token=EOS)
    wrapped.save_pretrained(folder / "tokenizer")
    eos_id = bpe.token_to_id(EOS)
    dtype = np.uint16 if vocab_size <= 2**16 else np.uint32
    counts = {
        split: _write_tokens(bpe, docs, eos_id, dtype, folder / f"{split}.bin", split) for split, docs in (("train", train_docs), ("val", val_docs))
    }
    meta = {
        "key": key,
        "corpus": corpus.spec,
        "corpus_fingerprint": corpus.fingerprint,
        "corpus_description": corpus.description,
        "vocab_size": bpe.get_vocab_size(),
        "requested_vocab_size": vocab_size,
        "val_fraction": val_fraction,
        "dtype": np.dtype(dtype).name,
        "eos_id": eos_id,
        "splits": counts,
    }
    (folder / "meta.json").write_text(json.dumps(meta, indent=2))
