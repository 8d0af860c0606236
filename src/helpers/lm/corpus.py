"""Corpora: one interface, five sources, a fingerprint and a deterministic document split.

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
- ``debian-en``: English prose that Debian packages install (:data:`DEBIAN_EN`, about 54 MB once
  cleaned): the Linux kernel's documentation and Python's, both reStructuredText stripped of
  directives, roles, code and tables; the GNU Collaborative International Dictionary of English,
  entries grouped into one document per headword prefix (``dict-gcide/ab``); the Debian Reference
  and the GNU coding standards as plain text. Identical documents are kept once.
  ``debian-en:<package>,...`` reads some of the packages. ``make corpus-en`` installs them.

The fingerprint hashes the sorted document names and every document's bytes (for ``pysource`` also
the Python version and the installed distributions' versions, for ``debian-en`` the packages'
versions), so any change to the corpus changes every cache key downstream of it.
"""

from __future__ import annotations

import glob
import gzip
import hashlib
import importlib.metadata
import json
import platform
import re
import shutil
import subprocess
import sysconfig
from dataclasses import dataclass
from pathlib import Path

from tqdm.auto import tqdm

from helpers.core.parameters import ParameterError

TEST_FOLDER = re.compile(r"^(tests?|.*_tests?|tests?_.*)$")
TEXT_SUFFIXES = (".txt", ".jsonl")


@dataclass(frozen=True)
class DebianText:
    """Where a Debian package installs its prose: files matching ``pattern`` below ``root`` (none
    below the folder ``exclude``), in the format ``rst``, ``gcide`` (a dictd dictionary in GCIDE's
    markup) or ``text``."""

    root: str
    pattern: str
    format: str
    exclude: str = ""


# The packages of the ``debian-en`` corpus; .ci/corpus-en-packages lists the same names for apt-get.
# The kernel's translations are left out (not English).
DEBIAN_EN = {
    "linux-doc-6.12": DebianText("/usr/share/doc/linux-doc-6.12/Documentation", "**/*.rst.gz", "rst", "translations"),
    "python3.11-doc": DebianText("/usr/share/doc/python3.11/html/_sources", "**/*.rst.txt", "rst"),
    "dict-gcide": DebianText("/usr/share/dictd", "gcide.dict.dz", "gcide"),
    "debian-reference-en": DebianText("/usr/share/debian-reference", "debian-reference.en.txt.gz", "text"),
    "gnu-standards": DebianText("/usr/share/doc/gnu-standards", "*.text.gz", "text"),
}


@dataclass(frozen=True)
class CorpusSpec:
    """A parsed corpus parameter: ``stdlib``, ``pysource[:<folder>]``, ``text:<path or glob>``,
    ``hf:<dataset>[:<config>]:<split>`` or ``debian-en[:<package>,...]`` (``location`` holds the
    packages, comma-separated)."""

    source: str
    location: str = ""
    config: str = ""
    split: str = ""


CORPUS_FORMS = "'stdlib', 'pysource[:<folder>]', 'text:<path or glob>', 'hf:<dataset>[:<config>]:<split>' or 'debian-en[:<package>,...]'"


def parse_corpus(spec: str, name: str = "corpus") -> CorpusSpec:
    """Parse and check a corpus parameter; a ``text:`` path must match at least one file, and the
    packages of ``debian-en`` must be installed."""
    source, colon, rest = spec.partition(":")
    if source == "debian-en":
        return CorpusSpec("debian-en", ",".join(_debian_packages(rest.split(",") if colon else list(DEBIAN_EN), spec, name)))
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
    elif parsed.source == "debian-en":
        names, documents, description, versions = _debian_en(parsed)
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


# --------------------------------------------------------------------------------------------
# debian-en: English prose from Debian packages, cleaned of markup that is not prose.


def _debian_packages(requested: list[str], spec: str, name: str) -> list[str]:
    """The requested packages in :data:`DEBIAN_EN`'s order; one error naming every unknown or
    missing package (with the command that installs the missing ones)."""
    unknown = [p for p in requested if p not in DEBIAN_EN]
    if unknown:
        raise ParameterError(name, spec, f"'debian-en' or 'debian-en:<package>,...' with packages among {', '.join(DEBIAN_EN)}")
    packages = [p for p in DEBIAN_EN if p in requested]
    installed = _installed_versions(packages)
    missing = [p for p in packages if p not in installed]
    if missing:
        raise ParameterError(
            name,
            spec,
            f"Debian packages that are installed; missing: {', '.join(missing)} "
            f"(install them with `sudo apt-get install {' '.join(missing)}`, or all of them with `make corpus-en`)",
        )
    return packages


def _installed_versions(packages: list[str]) -> dict[str, str]:
    """The version of each of ``packages`` that dpkg reports installed (none without dpkg)."""
    if shutil.which("dpkg-query") is None:
        return {}
    listed = subprocess.run(
        ["dpkg-query", "-W", "-f=${Package}\t${db:Status-Status}\t${Version}\n", *packages], capture_output=True, text=True
    ).stdout
    rows = (line.split("\t") for line in listed.splitlines())
    return {package: version for package, status, version in rows if status == "installed"}


def _debian_en(spec: CorpusSpec) -> tuple[list[str], list[str], str, str]:
    """Every package's cleaned documents; a document whose text another (earlier by name) has is dropped."""
    packages = spec.location.split(",")
    versions = _installed_versions(packages)
    files = [(package, path) for package in packages for path in _debian_files(package)]
    read: dict[str, str] = {}
    for package, path in tqdm(files, desc="debian-en files", unit="file", mininterval=1.0):
        read.update(_debian_documents(package, path))
    names, documents, seen = [], [], set()
    for name in sorted(read):
        if read[name] and read[name] not in seen:
            seen.add(read[name])
            names.append(name)
            documents.append(read[name])
    counts = ", ".join(f"{p} {versions[p]}: {sum(n.startswith(p + '/') for n in names):,}" for p in packages)
    megabytes = sum(len(d.encode("utf-8")) for d in documents) / 1e6
    description = (
        f"English prose from Debian packages: {len(names):,} documents ({counts}), {megabytes:,.0f} MB cleaned, "
        f"{sum(1 for d in read.values() if d) - len(names):,} duplicate documents dropped"
    )
    return names, documents, description, json.dumps(sorted(versions.items()))


def _debian_files(package: str) -> list[Path]:
    """The files ``package`` installs its prose in, sorted; an error when there are none."""
    source = DEBIAN_EN[package]
    root = Path(source.root)
    files = sorted(p for p in root.glob(source.pattern) if p.is_file() and p.relative_to(root).parts[0] != source.exclude)
    if not files:
        raise ParameterError(
            "corpus",
            f"debian-en:{package}",
            f"a package whose files are on disk: {package} is installed but nothing matches {root / source.pattern} "
            f"(a dpkg path-exclude for /usr/share/doc? reinstall it once that is lifted)",
        )
    return files


def _debian_documents(package: str, path: Path) -> dict[str, str]:
    """Cleaned documents of one file, by name: ``<package>/<path below the root>``, or for a dictd
    dictionary ``<package>/<headword prefix>``."""
    source = DEBIAN_EN[package]
    raw = gzip.decompress(path.read_bytes()) if path.suffix in (".gz", ".dz") else path.read_bytes()
    if source.format == "gcide":
        index = path.with_name(path.name.removesuffix(".dict.dz") + ".index").read_text(encoding="utf-8")
        return {f"{package}/{group}": _clean_gcide(text) for group, text in _dictd_groups(raw, index).items()}
    text = raw.decode("utf-8", errors="replace")
    cleaned = _clean_rst(text) if source.format == "rst" else _clean_text(text)
    return {f"{package}/{path.relative_to(source.root).as_posix()}": cleaned}


DICTD_DIGITS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


def _dictd_number(digits: str) -> int:
    """A dictd index offset or length: base-64 digits, most significant first."""
    number = 0
    for digit in digits:
        number = 64 * number + DICTD_DIGITS.index(digit)
    return number


def _dictd_groups(data: bytes, index: str) -> dict[str, str]:
    """A dictd dictionary's entries (its ``00-`` header entries left out), each once, joined in
    file order into one document per headword prefix: the first two letters, lower-cased (``ab``),
    or ``other`` for headwords that do not start with a letter a-z."""
    entries: dict[tuple[int, int], str] = {}
    for line in index.splitlines():
        headword, offset, length = line.split("\t")
        if not headword.startswith("00-"):
            entries.setdefault((_dictd_number(offset), _dictd_number(length)), headword)
    groups: dict[str, list[str]] = {}
    for (offset, length), headword in sorted(entries.items()):
        prefix = re.match(r"[a-z]{1,2}", headword.lower())
        text = data[offset : offset + length].decode("utf-8", errors="replace")
        groups.setdefault(prefix.group() if prefix else "other", []).append(text)
    return {group: "\n\n".join(texts) for group, texts in groups.items()}


RST_DIRECTIVE = re.compile(r"^\s*\.\. ([\w:.+-]+)::(.*)$")
RST_EXPLICIT = re.compile(r"^\s*\.\.(\s|$)")  # directives, comments, targets, footnotes, substitutions
RST_OPTION = re.compile(r"^\s*:[\w -]+:(\s|$)")
RST_ADORNMENT = re.compile(r"^\s*([=\-~^*#\"'`+.:_!])\1{3,}\s*$")  # heading under- and overlines, transitions
RST_GRID_BORDER = re.compile(r"^\s*\+([-=]+\+)+\s*$")
RST_SIMPLE_BORDER = re.compile(r"^\s*=+( +=+)+\s*$")
# Directives whose bodies are code, tables, pictures, formulas, indexes or build instructions.
RST_DROPPED = frozenset(
    "code-block code sourcecode literalinclude include kernel-include kernel-doc kernel-feat kernel-abi kernel-figure "
    "kernel-render toctree index flat-table list-table csv-table table tabularcolumns raw highlight productionlist math "
    "image figure parsed-literal contents sectnum module currentmodule moduleauthor sectionauthor program c:namespace "
    "cssclass rst-class doctest testcode testsetup testcleanup testoutput audit-event graphviz".split()
)
# Directives whose argument is prose (a note's first words, a title); other arguments are signatures or versions.
RST_PROSE_ARGUMENT = frozenset("note warning attention caution danger error hint important tip seealso admonition topic sidebar rubric".split())
RST_INLINE = (
    # an inline literal (may span lines, not paragraphs) as it is; elsewhere a backslash-escaped character
    (re.compile(r"``((?:(?!\n\s*\n).)+?)``|\\([^\sA-Za-z0-9])", re.S), lambda m: m.group(1) or m.group(2)),
    (re.compile(r":((?:[\w.+-]+:)*[\w.+-]+):`([^`]+)`"), lambda m: _rst_role(m.group(1), m.group(2))),
    (re.compile(r"`([^`]*?)\s*<[^`<>]*>`__?"), r"\1"),  # `text <url>`_
    (re.compile(r"`([^`]+)`(?:__?)?"), r"\1"),  # `reference`_ and `default role`
    (re.compile(r"\*\*(\S(?:[^*]*?\S)?)\*\*"), r"\1"),
    (re.compile(r"(?<![\w*\\])\*(\S(?:[^*\n]*?\S)?)\*(?![\w*])"), r"\1"),
    (re.compile(r" ?\[[#*]?[\w.-]*\]_"), ""),  # footnote and citation references
    (re.compile(r"\\ "), ""),  # escaped space (``x``\ s)
    (re.compile(r"^(\s*):([\w][\w .-]*):(?=\s)", re.M), r"\1\2:"),  # field list :Author: -> Author:
)


def _clean_rst(text: str) -> str:
    """reStructuredText to prose: directives (their bodies kept unless code, tables and the like),
    comments, targets, literal and doctest blocks, tables and heading adornments dropped; roles,
    links and inline markup reduced to their text; whitespace normalised."""
    lines = text.expandtabs(8).splitlines()
    kept, i = [], 0
    while i < len(lines):
        line = lines[i]
        indent = len(line) - len(line.lstrip())
        directive = RST_DIRECTIVE.match(line)
        if directive and directive.group(1).lower() not in RST_DROPPED:
            if directive.group(1).lower() in RST_PROSE_ARGUMENT:
                kept.append(directive.group(2))
            i = _rst_header_end(lines, i + 1, indent, directive.end(1) + 3)
        elif RST_EXPLICIT.match(line):
            i = _rst_block_end(lines, i + 1, indent)
            kept.append("")
        elif RST_GRID_BORDER.match(line) or RST_SIMPLE_BORDER.match(line):
            i = _rst_table_end(lines, i)
            kept.append("")
        elif line.lstrip().startswith(">>>"):
            while i < len(lines) and lines[i].strip():
                i += 1
        elif line.rstrip().endswith("::"):
            head = line.rstrip()[:-2]
            kept.extend([head.rstrip() if not head or head[-1].isspace() else head + ":", ""])
            i = _rst_block_end(lines, i + 1, indent)
        else:
            if not RST_ADORNMENT.match(line):
                kept.append(line)
            i += 1
    prose = "\n".join(kept)
    for pattern, replacement in RST_INLINE:
        prose = pattern.sub(replacement, prose)
    return _tidy(prose)


def _rst_header_end(lines: list[str], start: int, indent: int, argument_column: int) -> int:
    """First line of a kept directive's body: its options and a signature's continuation lines
    (indented to the argument's column) skipped."""
    end = start
    while end < len(lines) and lines[end].strip():
        depth = len(lines[end]) - len(lines[end].lstrip())
        if depth <= indent or not (RST_OPTION.match(lines[end]) or depth >= argument_column):
            break
        end += 1
    return end


def _rst_block_end(lines: list[str], start: int, indent: int) -> int:
    """First line from ``start`` on that is not blank and not indented deeper than ``indent``."""
    end = start
    while end < len(lines) and (not lines[end].strip() or len(lines[end]) - len(lines[end].lstrip()) > indent):
        end += 1
    return end


def _rst_table_end(lines: list[str], start: int) -> int:
    """The line after a table: a grid table ends at a blank line, a simple table at a border
    followed by a blank line."""
    end = start + 1
    if RST_GRID_BORDER.match(lines[start]):
        while end < len(lines) and lines[end].strip():
            end += 1
        return end
    while end < len(lines) and not (RST_SIMPLE_BORDER.match(lines[end]) and (end + 1 == len(lines) or not lines[end + 1].strip())):
        end += 1
    return end + 1


def _rst_role(role: str, content: str) -> str:
    """The text a role shows: the title of ``title <target>``, the last part of ``~a.b.c``; ``RFC n``, ``PEP n``."""
    titled = re.fullmatch(r"(.*?\S)\s*<[^<>]*>", content, re.S)
    if titled:
        return titled.group(1)
    if content.startswith("~"):
        content = content[1:].rsplit(".", 1)[-1]
    content = content.lstrip("!")
    kind = role.rsplit(":", 1)[-1].lower()
    return f"{kind.upper()} {content}" if kind in ("pep", "rfc") else content


GCIDE_LETTERS = {"imac": "i", "aum": "a", "add": "a", "asl": "a", "udd": "u", "dsdot": "d", "yogh": "y", "eth": "th", "thorn": "th", "deg": "°"}
GCIDE_LETTERS |= {ligature: ligature for ligature in ("ae", "oe", "AE", "OE", "ng", "th")}
GCIDE_INLINE = (
    # where an entry comes from: [1913 Webster], [WordNet 1.5 +PJC]
    (re.compile(r"\[(?:[^\[\]\n]*(?:Webster|WordNet|PJC|Century|RDH|RHUD)[^\[\]\n]*|AS)\]"), ""),
    (re.compile(r" ?\\[^\\]{1,100}\\"), ""),  # pronunciation: \A*ban"don\
    (re.compile(r"\[[=~^\"`'.,*-]([a-zA-Z]{1,2})\]|\[([a-zA-Z]{1,2})\^\]"), r"\1\2"),  # accented letters: [=a], [i^], ["o]
    (re.compile(r"\[(" + "|".join(GCIDE_LETTERS) + r")\]"), lambda m: GCIDE_LETTERS[m.group(1)]),  # [imac], [eth], [ae]
    (re.compile(r" ?\((?:-[^()\s]*|[^()]{0,120}[\w?'][\"*`][\w?'][^()]{0,120})\)"), ""),  # respelled: (ab*an"dun), (-dund)
    (re.compile(r"(?<=[A-Za-z])(?:[*\"](?=[A-Za-z])|`)"), ""),  # stress marks: Ca*pri"cious*ly, Gr. lo`gos
    (re.compile(r"\{([^{}]*)\}"), r"\1"),  # cross-reference: {Ban}
)


def _clean_gcide(text: str) -> str:
    """GCIDE entries (dictd text) to prose: source tags, pronunciations and cross-reference braces
    dropped, accented letters written plainly; whitespace normalised."""
    for pattern, replacement in GCIDE_INLINE:
        text = pattern.sub(replacement, text)
    return _tidy(text)


TEXT_TABLE = re.compile(r"^\s*[|+].*[|+]\s*$")


def _clean_text(text: str) -> str:
    """Plain-text documentation to prose: table rows and borders and heading underlines dropped."""
    return _tidy("\n".join(line for line in text.splitlines() if not (TEXT_TABLE.match(line) or RST_ADORNMENT.match(line))))


def _tidy(text: str) -> str:
    """Every line stripped and its runs of spaces made one; at most one blank line in a row."""
    return re.sub(r"\n{3,}", "\n\n", "\n".join(" ".join(line.split()) for line in text.splitlines())).strip()
