"""A chapter's notebook opens and closes its :class:`~helpers.core.provenance.ChapterRun` here: tables
displayed in the kernel get their PDF form, and the provenance is glued for the page."""

from __future__ import annotations

import dataclasses
from typing import Any

import pandas as pd

from helpers.core.numbers import readable
from helpers.core.parameters import Parameters
from helpers.core.provenance import ChapterRun, short_commit
from helpers.publish import pdf_tables
from helpers.publish.prose import glue_markdown

#: Where the published book keeps each chapter's results files, relative to the chapters' pages
#: (the runner copies ``runs/<preset>/results/`` there; the provenance section links every file).
RESULTS_FOLDER = "results"


def start(config: Parameters) -> ChapterRun:
    """A run of the chapter ``config`` configures; the chapter's tables reach the PDF as well as the
    HTML, and every cell a table does not format itself is written by :func:`helpers.core.numbers.readable`."""
    pdf_tables.register()
    pd.set_option("styler.format.formatter", readable)
    pd.set_option("styler.format.na_rep", "–")
    return ChapterRun(config)


def defaults(config: Parameters) -> dict[str, Any]:
    """The chapter's default parameters (the talk's settings) by name."""
    return {f.name: f.default if f.default is not dataclasses.MISSING else f.default_factory() for f in dataclasses.fields(config)}


def finish(run: ChapterRun) -> dict[str, Any]:
    """Write ``provenance.json`` (:meth:`ChapterRun.close`) and glue ``provenance_summary`` and
    ``provenance_table``: the commit, and only the parameters that differ from the chapter's defaults."""
    record = run.close()
    versions = ", ".join(f"{k} {v}" for k, v in record["versions"].items())
    commit = record["git_commit"]
    commit_text = f"commit `{short_commit(commit)}`" if commit != "unknown" else "no git commit"
    summary = f"preset `{record['preset']}` at {commit_text} on {record['device_name']}, {record['wall_time_s']:.1f} s of wall time"
    default = defaults(run.config)
    changed = {k: v for k, v in record["parameters"].items() if k not in ("preset", "chapter") and k in default and v != default[k]}
    # a list-table, whose column widths the PDF keeps (a Markdown table's long names ran into their values there)
    rows = "".join(f"* - `{k}`\n  - {_shown(v)}\n  - {_shown(default[k])}\n" for k, v in changed.items())
    table = (
        (f":::{{list-table}}\n:header-rows: 1\n:widths: 40 30 30\n\n* - parameter\n  - this run\n  - default\n{rows}:::\n\n" if changed else "")
        + (
            f"Every other parameter of this chapter ran at its default ({len(default) - len(changed)} of {len(default)}; "
            if changed
            else f"Every parameter of this chapter ran at its default ({len(default)} of them; "
        )
        + "the defaults are "
        "the talk's settings, in `src/helpers/chapters/configs.py`; the full record is `provenance.json` beside the results).\n\n"
        f"Preset `{record['preset']}` · commit `{commit}` · device: {record['device_name']} · started {record['started_at']} · "
        f"wall time {record['wall_time_s']:.1f} s\n\nPackages: {versions}\n"
    )
    files = sorted(p.name for p in run.results.iterdir() if p.is_file())
    downloads = " · ".join(f"{{download}}`{name} <{RESULTS_FOLDER}/{record['chapter']}/{name}>`" for name in files)
    table += f"\nThis chapter's results, to download: {downloads}\n"
    glue_markdown("provenance_summary", summary)
    glue_markdown("provenance_table", table)
    return record


def _shown(value: Any) -> str:
    """A parameter's value in a provenance row: as code, an empty string or list named in words."""
    if value in ("", [], ()):
        return "(empty: " + ("the chapter's own choice)" if value == "" else "none)")
    return f"`{value}`"
