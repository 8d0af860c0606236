"""A chapter's notebook opens and closes its :class:`~helpers.core.provenance.ChapterRun` here: tables
displayed in the kernel get their PDF form, and the provenance is glued for the page."""

from __future__ import annotations

from typing import Any

from helpers.core.parameters import Parameters
from helpers.core.provenance import ChapterRun
from helpers.publish import pdf_tables
from helpers.publish.prose import glue_markdown


def start(config: Parameters) -> ChapterRun:
    """A run of the chapter ``config`` configures; the chapter's tables reach the PDF as well as the HTML."""
    pdf_tables.register()
    return ChapterRun(config)


def finish(run: ChapterRun) -> dict[str, Any]:
    """Write ``provenance.json`` (:meth:`ChapterRun.close`) and glue ``provenance_summary`` and ``provenance_table``."""
    record = run.close()
    versions = ", ".join(f"{k} {v}" for k, v in record["versions"].items())
    summary = f"preset `{record['preset']}` on {record['device_name']}, {record['wall_time_s']:.1f} s of wall time"
    parameters = "\n".join(f"| `{k}` | `{v}` |" for k, v in record["parameters"].items())
    table = (
        "| parameter | value |\n|---|---|\n"
        f"{parameters}\n\n"
        f"Device: {record['device_name']} · started {record['started_at']} · "
        f"wall time {record['wall_time_s']:.1f} s\n\nPackages: {versions}\n"
    )
    glue_markdown("provenance_summary", summary)
    glue_markdown("provenance_table", table)
    return record
