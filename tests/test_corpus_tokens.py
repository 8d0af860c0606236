"""Corpus sources, fingerprints, the document split, and the tokenizer and token shards."""

import json

import numpy as np
import pytest

from helpers.core.parameters import ParameterError
from helpers.lm.corpus import load_corpus
from helpers.lm.tokens import prepare_tokens


@pytest.fixture
def text_folder(tmp_path):
    folder = tmp_path / "texts"
    folder.mkdir()
    for i in range(12):
        (folder / f"doc{i:02d}.txt").write_text(f"def function_{i}(x):\n    return x * {i}\n" * 20)
    (folder / "more.jsonl").write_text("\n".join(json.dumps({"text": f"print('line {i}')"}) for i in range(8)) + "\n")
    (folder / "ignored.md").write_text("# not a corpus file")
    return folder


def test_stdlib_corpus_is_fingerprinted_and_excludes_tests():
    corpus = load_corpus("stdlib")
    assert len(corpus.names) > 500 and corpus.n_bytes > 5_000_000
    assert not any(part in ("test", "tests", "idle_test") for name in corpus.names for part in name.split("/")[:-1])
    assert "json/decoder.py" in corpus.names
    assert load_corpus("stdlib").fingerprint == corpus.fingerprint and len(corpus.fingerprint) == 64


def test_text_folder_glob_and_jsonl(text_folder):
    corpus = load_corpus(f"text:{text_folder}")
    assert len(corpus.names) == 12 + 8
    assert any(name.endswith("more.jsonl:3") for name in corpus.names)
    only_txt = load_corpus(f"text:{text_folder}/doc0*.txt")
    assert len(only_txt.names) == 10 and only_txt.fingerprint != corpus.fingerprint


def test_split_is_deterministic_and_stable_under_additions(text_folder):
    corpus = load_corpus(f"text:{text_folder}")
    train, val = corpus.split(0.3)
    assert (train, val) == corpus.split(0.3) and len(train) + len(val) == len(corpus.names)
    (text_folder / "new.txt").write_text("x = 1\n")
    bigger_train, bigger_val = load_corpus(f"text:{text_folder}").split(0.3)
    assert set(val) <= set(bigger_val) and set(train) <= set(bigger_train)


def test_clear_errors(tmp_path):
    with pytest.raises(ParameterError, match="no file or folder matches"):
        load_corpus(f"text:{tmp_path}/missing/*.txt")
    (tmp_path / "empty.txt").write_text("   \n")
    with pytest.raises(ParameterError, match="at least one non-empty document"):
        load_corpus(f"text:{tmp_path}/empty.txt")
    with pytest.raises(ParameterError, match="'stdlib', 'pysource\\[:<folder>\\]', 'text:<path or glob>'"):
        load_corpus("webtext")
    (tmp_path / "bad.jsonl").write_text(json.dumps({"body": "x"}) + "\n")
    with pytest.raises(ParameterError, match="'text' field"):
        load_corpus(f"text:{tmp_path}/bad.jsonl")


@pytest.fixture
def python_folder(tmp_path):
    """A small site-packages look-alike: two packages, a test folder, and a byte-identical copy."""
    root = tmp_path / "site"
    for package in ("alpha", "beta"):
        (root / package / "tests").mkdir(parents=True)
        (root / package / "__init__.py").write_text(f"NAME = {package!r}\n")
        (root / package / "tests" / "test_core.py").write_text("def test_nothing():\n    pass\n")
    (root / "alpha" / "core.py").write_text("def double(x):\n    return 2 * x\n")
    (root / "beta" / "vendored_core.py").write_text("def double(x):\n    return 2 * x\n")
    (root / "beta" / "notes.txt").write_text("not python")
    return root


def test_pysource_folder_drops_tests_and_duplicates(python_folder):
    corpus = load_corpus(f"pysource:{python_folder}")
    assert corpus.names == ["src/alpha/__init__.py", "src/alpha/core.py", "src/beta/__init__.py"]
    assert "3 .py files" in corpus.description and "1 duplicate files dropped" in corpus.description
    (python_folder / "beta" / "vendored_core.py").write_text("def triple(x):\n    return 3 * x\n")
    changed = load_corpus(f"pysource:{python_folder}")
    assert "src/beta/vendored_core.py" in changed.names and changed.fingerprint != corpus.fingerprint


def test_pysource_errors_name_the_corpus(tmp_path):
    (tmp_path / "only_tests" / "tests").mkdir(parents=True)
    (tmp_path / "only_tests" / "tests" / "test_x.py").write_text("x = 1\n")
    with pytest.raises(ParameterError, match="at least one .py file outside test folders") as info:
        load_corpus(f"pysource:{tmp_path / 'only_tests'}")
    assert info.value.name == "corpus"
    with pytest.raises(ParameterError, match="is not a folder"):
        load_corpus(f"pysource:{tmp_path / 'missing'}")


def test_pysource_reads_the_standard_library_and_site_packages():
    corpus = load_corpus("pysource")
    stdlib = load_corpus("stdlib")
    kept = set(corpus.names)
    assert sum(f"stdlib/{name}" in kept for name in stdlib.names) > 0.95 * len(stdlib.names)  # a few are duplicates
    assert any(name.startswith("site-packages/numpy/") for name in corpus.names)
    assert not any(part in ("tests", "test") for name in corpus.names for part in name.split("/")[1:-1])
    assert corpus.n_bytes > 20 * stdlib.n_bytes


def test_hugging_face_path_on_a_dataset_saved_to_disk(tmp_path):
    import datasets

    texts = [f"def f{i}():\n    return {i}\n" for i in range(30)]
    datasets.DatasetDict({"train": datasets.Dataset.from_dict({"text": texts})}).save_to_disk(str(tmp_path / "dd"))
    corpus = load_corpus(f"hf:{tmp_path / 'dd'}:train")
    assert sorted(corpus.documents) == sorted(texts)
    with pytest.raises(ParameterError, match="a split of the saved dataset: train"):
        load_corpus(f"hf:{tmp_path / 'dd'}:validation")
    datasets.Dataset.from_dict({"content": texts}).save_to_disk(str(tmp_path / "no_text"))
    with pytest.raises(ParameterError, match="a 'text' column \\(it has content\\)"):
        load_corpus(f"hf:{tmp_path / 'no_text'}:train")


def test_tokenizer_round_trips_and_shards_are_cached(text_folder, tmp_path):
    corpus = load_corpus(f"text:{text_folder}")
    data = prepare_tokens(corpus, 300, 0.25, tmp_path / "cache")
    assert data.train.dtype == np.uint16 and data.vocab_size <= 300
    train_docs, val_docs = corpus.split(0.25)
    eos = data.meta["eos_id"]
    assert (data.train == eos).sum() == len(train_docs) and (data.val == eos).sum() == len(val_docs)
    first = data.train[: int(np.argmax(data.train == eos))].tolist()
    assert data.tokenizer.decode(first) == train_docs[0]  # byte-level BPE is lossless
    stamp = (data.folder / "train.bin").stat().st_mtime_ns
    again = prepare_tokens(corpus, 300, 0.25, tmp_path / "cache")
    assert again.folder == data.folder and (again.folder / "train.bin").stat().st_mtime_ns == stamp
    assert prepare_tokens(corpus, 280, 0.25, tmp_path / "cache").folder != data.folder
    assert not [p for p in (tmp_path / "cache" / "tokens").iterdir() if p.name.startswith(".")]


def test_tokens_are_streamed_in_batches_with_the_same_bytes(text_folder, tmp_path):
    """Encoding in batches of documents writes exactly the ids of encoding everything at once."""
    from tokenizers import Tokenizer

    from helpers.lm.tokens import _write_tokens

    corpus = load_corpus(f"text:{text_folder}")
    data = prepare_tokens(corpus, 300, 0.25, tmp_path / "cache")
    bpe = Tokenizer.from_file(str(data.folder / "tokenizer" / "tokenizer.json"))
    train_docs, _ = corpus.split(0.25)
    counts = _write_tokens(bpe, train_docs, data.meta["eos_id"], np.uint16, tmp_path / "batched.bin", "train", batch_documents=3)
    whole = np.concatenate([np.asarray(e.ids + [data.meta["eos_id"]], dtype=np.uint16) for e in bpe.encode_batch(train_docs)])
    assert np.array_equal(np.fromfile(tmp_path / "batched.bin", dtype=np.uint16), whole)
    assert counts["tokens"] == whole.size == data.train.size and counts["documents"] == len(train_docs)
