"""The corpus ``debian-en``: its cleaners on hand-written samples of each format, its errors, and
the real packages' text.

The test on the installed packages skips (saying which are missing and how to install them) where
they are not installed, except under ``REQUIRE_CORPUS_EN=1`` (set by ``.ci/run``), where it fails.
"""

import gzip
import os
import re
from pathlib import Path

import pytest

from helpers.core.parameters import ParameterError
from helpers.lm import corpus
from helpers.lm.corpus import DEBIAN_EN, DebianText, load_corpus, parse_corpus

RST = r""".. SPDX-License-Identifier: GPL-2.0

.. _kobject:

==================
Kobjects and ksets
==================

:Author: Greg Kroah-Hartman

A kobject is described by :c:type:`struct kobject <kobject>` and
created with :c:func:`kobject_init`; see :ref:`the driver model <driver-model>`
and ``drivers/base/core.c`` for **details**.

.. note::
   Never embed *more* than one kobject.

.. code-block:: c

    struct uio_map {
            struct kobject kobj;
    };

For example::

    kobject_put(kobj);

Back to prose. See :pep:`8` and `the LWN article <https://lwn.net/>`_ [#lwn]_.

.. function:: dumps(obj, *, skipkeys=False, \
                    indent=None)
   :noindex:

   Serialize *obj* to a JSON formatted :class:`str`, using :func:`~json.encoder.JSONEncoder`,
   or a list of ``str``\ s; ``C:\\Users`` is kept, C:\\Users is unescaped.

   .. versionchanged:: 3.6
      *obj* may be :class:`bytes`.

+-------+-------+
| a     | b     |
+=======+=======+
| 1     | 2     |
+-------+-------+

=====  =====
col 1  col 2
=====  =====
x      y
=====  =====

>>> import json
>>> json.dumps(1)
'1'

.. toctree::
   :maxdepth: 2

   intro

.. [#lwn] Footnote text.

Last line.
"""

RST_CLEANED = r"""Kobjects and ksets

Author: Greg Kroah-Hartman

A kobject is described by struct kobject and
created with kobject_init; see the driver model
and drivers/base/core.c for details.

Never embed more than one kobject.

For example:

Back to prose. See PEP 8 and the LWN article.

Serialize obj to a JSON formatted str, using JSONEncoder,
or a list of strs; C:\\Users is kept, C:\Users is unescaped.

obj may be bytes.

Last line."""

# A dictd dictionary in GCIDE's format: a header entry, then entries (each followed by a newline),
# and its index: headword, offset and length in base 64. "first" is a second headword of "1st".
DICTD_ENTRIES = [
    "00-database-short\n   The Collaborative International Dictionary of English v.0.48\n",
    'Abandon \\A*ban"don\\ ([.a]*b[a^]n"d[u^]n), v. t. [imp. & p. p.\n'
    "   {Abandoned} (-d[u^]nd); p. pr. & vb. n. {Abandoning}.] [OF.\n"
    "   abandoner.]\n"
    "   1. To cast or drive out; to banish; to expel. [Obs.]\n"
    "      [1913 Webster]\n"
    "\n"
    "            That he might . . . abandon them from him. --Udall.\n"
    "      [1913 Webster]\n",
    "1st \\1st\\ adj.\n   coming before all others in time or space or degree.\n   [WordNet 1.5]\n",
    'Agreeably \\A*gree"a*bly\\, adv.\n   In an agreeable manner; as, Agreeably entertained. -- A*gree"a*ble*ness, n.\n      [1913 Webster]\n',
    'Abaca \\Ab"a*ca\\, n. [The native name.]\n   The Manila-hemp plant; also, its fiber. See {Manila hemp}. Z[oe]l; 39[deg] F.\n   [1913 Webster]\n',
]
DICTD_INDEX = "00-database-short\tA\tBS\n1st\tGD\tBY\nAbaca\tJg\tCK\nAbandon\tBT\tEv\nAgreeably\tHc\tCD\nfirst\tGD\tBY\n"
GCIDE_CLEANED = {
    "ab": "Abandon, v. t. [imp. & p. p.\nAbandoned; p. pr. & vb. n. Abandoning.] [OF.\nabandoner.]\n"
    "1. To cast or drive out; to banish; to expel. [Obs.]\n\nThat he might . . . abandon them from him. --Udall.\n\n"
    "Abaca, n. [The native name.]\nThe Manila-hemp plant; also, its fiber. See Manila hemp. Zoel; 39° F.",
    "ag": "Agreeably, adv.\nIn an agreeable manner; as, Agreeably entertained. -- Agreeableness, n.",
    "other": "1st adj.\ncoming before all others in time or space or degree.",
}

TEXT = """Chapter 1. GNU/Linux tutorials

1.1. Console basics
===================

    +---------------------------------------------------------------+
    |  command  |                  description                      |
    |-----------+---------------------------------------------------|
    |gzip foo   |compress "foo" to create "foo.gz"                  |
    +---------------------------------------------------------------+


    Note

    Unix has a tradition to hide filenames which start with ".".   They
    are traditionally files that contain configuration information.
"""

TEXT_CLEANED = """Chapter 1. GNU/Linux tutorials

1.1. Console basics

Note

Unix has a tradition to hide filenames which start with ".". They
are traditionally files that contain configuration information."""


def test_rst_cleaner_keeps_prose_only():
    assert corpus._clean_rst(RST) == RST_CLEANED


def test_dictd_entries_grouped_by_headword_prefix_and_cleaned():
    data = "\n".join(DICTD_ENTRIES).encode() + b"\n"
    groups = corpus._dictd_groups(data, DICTD_INDEX)
    assert sorted(groups) == ["ab", "ag", "other"]  # the header entry left out, "first" read once
    assert {group: corpus._clean_gcide(text) for group, text in groups.items()} == GCIDE_CLEANED


def test_plain_text_cleaner_drops_tables_and_underlines():
    assert corpus._clean_text(TEXT) == TEXT_CLEANED


def test_package_list_for_apt_matches_the_module():
    listed = (Path(__file__).parents[1] / ".ci" / "corpus-en-packages").read_text().split()
    assert listed == list(DEBIAN_EN)


def test_unknown_and_missing_packages_are_one_clear_error(monkeypatch):
    with pytest.raises(ParameterError, match="packages among linux-doc-6.12, python3.11-doc, dict-gcide") as info:
        parse_corpus("debian-en:linux-doc-6.12,gcide")
    assert info.value.name == "corpus"
    with pytest.raises(ParameterError, match="packages among"):
        parse_corpus("debian-en:")
    monkeypatch.setattr(corpus, "_installed_versions", lambda packages: {"dict-gcide": "0.48.5+nmu2"})
    with pytest.raises(ParameterError) as info:
        load_corpus("debian-en")
    message = str(info.value)
    assert info.value.name == "corpus" and "missing: linux-doc-6.12, python3.11-doc, debian-reference-en, gnu-standards" in message
    assert "sudo apt-get install linux-doc-6.12 python3.11-doc debian-reference-en gnu-standards" in message
    assert "make corpus-en" in message
    assert parse_corpus("debian-en:dict-gcide").location == "dict-gcide"


@pytest.fixture
def fake_packages(tmp_path, monkeypatch):
    """Two packages' files in a temporary folder, and dpkg reporting them installed at version 1."""
    for name, text in (("a.text.gz", TEXT), ("b.text.gz", TEXT), ("c.text.gz", "Another document.")):
        (tmp_path / "gnu" / name).parent.mkdir(exist_ok=True)
        (tmp_path / "gnu" / name).write_bytes(gzip.compress(text.encode()))
    for name in ("library/json.rst.txt", "translations/skipped.rst.txt"):
        (tmp_path / "py" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "py" / name).write_text(RST)
    monkeypatch.setitem(DEBIAN_EN, "gnu-standards", DebianText(str(tmp_path / "gnu"), "*.text.gz", "text"))
    monkeypatch.setitem(DEBIAN_EN, "python3.11-doc", DebianText(str(tmp_path / "py"), "**/*.rst.txt", "rst", "translations"))
    monkeypatch.setattr(corpus, "_installed_versions", lambda packages: dict.fromkeys(packages, "1"))
    return tmp_path


def test_documents_named_deduplicated_and_versions_fingerprinted(fake_packages, monkeypatch):
    loaded = load_corpus("debian-en:gnu-standards,python3.11-doc")
    assert loaded.names == ["gnu-standards/a.text.gz", "gnu-standards/c.text.gz", "python3.11-doc/library/json.rst.txt"]
    assert loaded.documents[0] == TEXT_CLEANED and loaded.documents[2] == RST_CLEANED
    assert "3 documents (python3.11-doc 1: 1, gnu-standards 1: 2)" in loaded.description
    assert "1 duplicate documents dropped" in loaded.description
    assert load_corpus("debian-en:python3.11-doc,gnu-standards").fingerprint == loaded.fingerprint
    monkeypatch.setattr(corpus, "_installed_versions", lambda packages: dict.fromkeys(packages, "2"))
    assert load_corpus("debian-en:gnu-standards,python3.11-doc").fingerprint != loaded.fingerprint


def test_an_installed_package_without_its_files_is_an_error(fake_packages, monkeypatch):
    monkeypatch.setitem(DEBIAN_EN, "gnu-standards", DebianText(str(fake_packages / "nowhere"), "*.text.gz", "text"))
    with pytest.raises(ParameterError, match="gnu-standards is installed but nothing matches"):
        load_corpus("debian-en:gnu-standards")


def _require(packages: list[str]) -> None:
    """Skip (fail under REQUIRE_CORPUS_EN=1) unless the packages are installed."""
    installed = corpus._installed_versions(packages)
    missing = [p for p in packages if p not in installed]
    if missing:
        message = f"Debian packages not installed: {', '.join(missing)} (sudo apt-get install {' '.join(missing)}, or make corpus-en)"
        if os.environ.get("REQUIRE_CORPUS_EN") == "1":
            pytest.fail(message)
        pytest.skip(message)


# Markup that cleaning removes: a directive, a role, an inline literal, a GCIDE source tag. A few
# survive where the source itself is malformed; a systematic miss would leave thousands.
MARKUP = re.compile(r"^\.\. [\w:-]+::|:[\w:]+:`\w|``\w[^`\n]*``|^\[1913 Webster\]", re.M)


def _looks_like_prose(text: str) -> bool:
    letters = sum(c.isalpha() or c.isspace() for c in text)
    return letters > 0.85 * len(text) and len(MARKUP.findall(text)) <= text.count("\n") / 10_000


def test_installed_packages_read_as_english_prose():
    _require(list(DEBIAN_EN))
    loaded = load_corpus("debian-en")
    assert loaded.names == sorted(loaded.names) and len(set(loaded.documents)) == len(loaded.documents)
    for package in DEBIAN_EN:
        documents = [d for n, d in zip(loaded.names, loaded.documents) if n.startswith(f"{package}/")]
        assert documents and _looks_like_prose("\n".join(documents)), package
    assert "linux-doc-6.12/process/coding-style.rst.gz" in loaded.names and "dict-gcide/ab" in loaded.names
    assert not any(n.startswith("linux-doc-6.12/translations/") for n in loaded.names)
    assert loaded.n_bytes > 40_000_000 and "duplicate documents dropped" in loaded.description
    small = "debian-en:debian-reference-en,gnu-standards"
    assert load_corpus(small).fingerprint == load_corpus(small).fingerprint != loaded.fingerprint
