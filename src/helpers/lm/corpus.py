"""Corpora: one interface, three sources, a fingerprint and a deterministic document split.

Sources (the ``corpus`` parameter, parsed by :func:`parse_corpus` below):

- ``stdlib``: the running Python's standard-library ``.py`` files, test folders excluded; every
  machine has it, nothing to download.
- ``pysource``: the standard library plus every ``.py`` file of this environment's site-packages
  (test folders excluded, files with identical bytes kept once); about 300 MB in the book's
  environment. ``pysource:<folder>`` reads the ``.py`` files below one folder instead, same rules.
- ``text:<path or glob>``: local ``.txt`` files (one document each) or ``.jsonl`` files (one
  document per line, from its ``text`` field); a folder means every such file below it.
- ``hf:<dataset>[:<config>]:<split>``: a Hugging Face dataset with a ``text`` column, loaded with
  ``datasets.load_dataset``, or with ``load_from_disk`` when ``<dataset>`` is a local folder.

The fingerprint hashes the sorted document names and every document's bytes (for ``pysource`` also
the Python version and the installed distributions' versions), so any change to the corpus changes
every cache key downstream of it.
"""

from __future__ import annotations

import glob
import hashlib
import importlib.metadata
import json
import platform
import re
import sysconfig
from dataclasses import dataclass
from pathlib import Path

from tqdm.auto import tqdm

from helpers.core.parameters import ParameterError

TEST_FOLDER = re.compile(r"^(tests?|.*_tests?|tests?_.*)$")
TEXT_SUFFIXES = (".txt", ".jsonl")


@dataclass(frozen=True)
class CorpusSpec:
    """A parsed corpus parameter: ``stdlib``, ``pysource[:<folder>]``, ``text:<path or glob>`` or
    ``hf:<dataset>[:<config>]:<split>``."""

    source: str
    location: str = ""
    config: str = ""
    split: str = ""


CORPUS_FORMS = "'stdlib', 'pysource[:<folder>]', 'text:<path or glob>' or 'hf:<dataset>[:<config>]:<split>'"


def parse_corpus(spec: str, name: str = "corpus") -> CorpusSpec:
    """Parse and check a corpus parameter; a ``text:`` path must match at least one file."""
    source, _, rest = spec.partition(":")
    if source == "stdlib" and not rest:
        return CorpusSpec("stdlib")
    if source == "pysource":
        if rest and not Path(rest).is_dir():
            raise ParameterError(name, spec, f"{CORPUS_FORMS}; {rest!r} is not a folder")
        return CorpusSpec("pysource", rest)
    if source == "text" and rest:
        if not [p for p in glob.glob(rest, recursive=True) if Path(p).is_file()] and not Path(rest).is_dir():
            raise ParameterError(name, spec, f"{CORPUS_FORMS}; no file or folder matches {rest!r}")
        return CorpusSpec("text", rest)
    if source == "hf":
        parts = rest.split(":")
        if len(parts) in (2, 3) and all(parts):
            dataset, *config, split = parts
            return CorpusSpec("hf", dataset, config[0] if config else "", split)
    raise ParameterError(name, spec, CORPUS_FORMS)


@dataclass(frozen=True)
class Corpus:
    """Documents with stable names (file paths, or ``<file>:<line>`` and ``<dataset>[i]``)."""

    spec: str
    names: list[str]
    documents: list[str]
    fingerprint: str
    description: str

    @property
    def n_bytes(self) -> int:
        return sum(len(d.encode("utf-8")) for d in self.documents)

    def split(self, val_fraction: float) -> tuple[list[str], list[str]]:
        """(train, validation) documents. A document's side depends only on its name's hash, so
        adding or removing other documents never moves it."""
        if not 0 < val_fraction < 1:
            raise ValueError(f"val_fraction must lie in (0, 1), got {val_fraction}")
        train, val = [], []
        for name, document in zip(self.names, self.documents):
            bucket = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big") / 2**64
            (val if bucket < val_fraction else train).append(document)
        if not train or not val:
            raise ValueError(
                f"corpus {self.spec!r}: {len(self.names)} documents give an empty "
                f"{'training' if not train else 'validation'} split at val_fraction={val_fraction}"
            )
        return train, val


def load_corpus(spec: str) -> Corpus:
    """Read the corpus named by ``spec``; raise a clear error for a bad or empty one."""
    parsed = parse_corpus(spec)
    versions = ""
    if parsed.source == "stdlib":
        names, documents, description = _stdlib()
    elif parsed.source == "pysource":
        names, documents, description, versions = _pysource(parsed)
    elif parsed.source == "text":
        names, documents, description = _text_files(parsed)
    else:
        names, documents, description = _hf_dataset(parsed, spec)
    kept = [(n, d) for n, d in zip(names, documents) if d.strip()]
    if not kept:
        raise ParameterError("corpus", spec, "a corpus with at least one non-empty document")
    kept.sort()
    digest = hashlib.sha256(versions.encode())
    for name, document in kept:
        digest.update(name.encode() + b"\0" + document.encode("utf-8") + b"\0")
    return Corpus(spec, [n for n, _ in kept], [d for _, d in kept], digest.hexdigest(), description)


def _stdlib() -> tuple[list[str], list[str], str]:
    root = Path(sysconfig.get_paths()["stdlib"])
    files = _python_files(root)
    documents = [p.read_text(encoding="utf-8", errors="replace") for p in files]
    names = [str(p.relative_to(root)) for p in files]
    return names, documents, f"Python {platform.python_version()} standard library ({len(files)} .py files, tests excluded)"


def _python_files(root: Path) -> list[Path]:
    """``.py`` files below ``root``, sorted, none inside a test folder or a nested site-packages."""
    return sorted(
        p
        for p in root.rglob("*.py")
        if p.is_file() and not any(TEST_FOLDER.match(part) or part in ("site-packages", "dist-packages") for part in p.relative_to(root).parts[:-1])
    )


def _pysource(spec: CorpusSpec) -> tuple[list[str], list[str], str, str]:
    """Standard library plus site-packages (or one folder); later copies of identical files dropped."""
    if spec.location:
        roots = {"src": Path(spec.location)}
        versions = ""
    else:
        paths = sysconfig.get_paths()
        roots = {"stdlib": Path(paths["stdlib"]), "site-packages": Path(paths["purelib"])}
        if paths["platlib"] != paths["purelib"]:
            roots["platlib"] = Path(paths["platlib"])
        versions = json.dumps([platform.python_version(), _distribution_versions()])
    names, documents, seen, duplicates = [], [], set(), 0
    files = [(label, root, path) for label, root in roots.items() for path in _python_files(root)]
    for label, root, path in tqdm(files, desc="pysource files", unit="file", mininterval=1.0):
        raw = path.read_bytes()
        digest = hashlib.sha256(raw).digest()
        if digest in seen:
            duplicates += 1
            continue
        seen.add(digest)
        names.append(f"{label}/{path.relative_to(root).as_posix()}")
        documents.append(raw.decode("utf-8", errors="replace"))
    if not names:
        raise ParameterError(
            "corpus", f"pysource:{spec.location}" if spec.location else "pysource", "a folder holding at least one .py file outside test folders"
        )
    megabytes = sum(len(d) for d in documents) / 1e6
    where = spec.location or f"Python {platform.python_version()} standard library and site-packages"
    description = f"{where}: {len(names):,} .py files ({megabytes:,.0f} MB), tests excluded, {duplicates:,} duplicate files dropped"
    return names, documents, description, versions


def _distribution_versions() -> list[str]:
    """``name==version`` of every installed distribution, sorted."""
    return sorted({f"{d.metadata['Name']}=={d.version}" for d in importlib.metadata.distributions()})


def _text_files(spec: CorpusSpec) -> tuple[list[str], list[str], str]:
    location = Path(spec.location)
    if location.is_dir():
        files = sorted(p for p in location.rglob("*") if p.suffix in TEXT_SUFFIXES and p.is_file())
    else:
        files = sorted(Path(p) for p in glob.glob(spec.location, recursive=True) if Path(p).is_file())
    names, documents = [], []
    for path in files:
        if path.suffix == ".jsonl":
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines()):
                if line.strip():
                    record = json.loads(line)
                    if "text" not in record:
                        raise ParameterError(
                            "corpus", f"text:{spec.location}", f".jsonl lines with a 'text' field ({path}:{number + 1} has {sorted(record)})"
                        )
                    names.append(f"{path}:{number}")
                    documents.append(record["text"])
        else:
            names.append(str(path))
            documents.append(path.read_text(encoding="utf-8", errors="replace"))
    return names, documents, f"{len(files)} local text files matching {spec.location}"


def _hf_dataset(spec: CorpusSpec, raw: str) -> tuple[list[str], list[str], str]:
    import datasets

    if Path(spec.location).is_dir():
        loaded = datasets.load_from_disk(spec.location)
        if isinstance(loaded, datasets.DatasetDict):
            if spec.split not in loaded:
                raise ParameterError("corpus", raw, f"a split of the saved dataset: {', '.join(loaded)}")
            loaded = loaded[spec.split]
    else:
        loaded = datasets.load_dataset(spec.location, spec.config or None, split=spec.split)
    if "text" not in loaded.column_names:
        raise ParameterError("corpus", raw, f"a dataset with a 'text' column (it has {', '.join(loaded.column_names)})")
    texts = loaded["text"]
    names = [f"{spec.location}[{i}]" for i in range(len(texts))]
    return names, list(texts), f"Hugging Face dataset {spec.location} ({spec.split}, {len(texts)} documents)"
