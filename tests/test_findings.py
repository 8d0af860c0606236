"""The findings table: its Markdown form, the README's generated block and its staleness check."""

from __future__ import annotations

import pandas as pd
import pytest

from helpers.core import paths
from helpers.publish import findings


def glance_table() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "kind": ["claim", "measurement"],
            "claim or measurement": ["importance predicts universality", "a | piped measurement"],
            "talk": ["mean r = 0.72", ""],
            "chapter": ["ch-universality", "ch-counting"],
            "big (widths 64–192)": ["not reproduced: r 0.40 [0.35, 0.46]", "not measured at this rung"],
        }
    )


def test_markdown_rows_bold_the_verdict_and_escape_pipes():
    lines = findings.markdown(glance_table()).splitlines()
    assert lines[0] == "| Claim or measurement | The talk | big (widths 64–192) |" and lines[1] == "|---|---|---|"
    assert lines[2] == "| importance predicts universality | mean r = 0.72 | **not reproduced**: r 0.40 [0.35, 0.46] |"
    assert lines[3] == "| a \\| piped measurement | – | **not measured at this rung** |"
    assert len(findings.markdown(glance_table(), rows=("importance predicts universality",)).splitlines()) == 3


def test_the_book_table_is_a_long_list_table_linking_each_chapter():
    text = findings.list_table(glance_table())
    assert text.startswith("```{list-table}\n:header-rows: 1\n:class: longtable\n:widths: 22 10 60 8\n")
    assert "* - importance predicts universality\n  - mean r = 0.72\n  - **not reproduced**: r 0.40 [0.35, 0.46]\n" in text
    assert "  - {numref}`Chapter %s <ch-counting>`" in text and text.endswith("```\n")


def test_the_readme_block_is_rewritten_between_its_markers_only(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(f"# Title\n\n{findings.START}\nold rows\n{findings.END}\n\n## After\n")
    assert findings.update_readme(readme, bundles_dir=tmp_path)  # an empty bundles folder: no rung yet
    text = readme.read_text()
    assert "old rows" not in text and "No results bundle is committed yet." in text and text.endswith("## After\n")
    assert not findings.update_readme(readme, bundles_dir=tmp_path)
    readme.write_text("# no markers\n")
    with pytest.raises(ValueError, match="no findings block"):
        findings.update_readme(readme, bundles_dir=tmp_path)


def test_the_readme_shows_the_committed_bundles_findings():
    """The README's block equals what the committed bundles give today (python -m
    helpers.publish.findings readme rewrites it)."""
    text = (paths.project_root() / "README.md").read_text()
    block = text[text.index(findings.START) : text.index(findings.END) + len(findings.END)]
    assert block == findings.readme_block(), "README.md's findings are stale: run python -m helpers.publish.findings readme"


def test_ladder_tables_read_down_one_column_per_rung():
    from helpers.publish import ladder

    table = pd.DataFrame({"rung": ["quick", "study"], "widest N": [393216.0, 3538944.0], "r": [0.0051, 0.405], "site": ["a", "a"]})
    turned = ladder.by_rung(table, leave_out=("site",))
    assert list(turned.columns) == ["measure", "quick", "study"]
    assert turned.measure.tolist() == ["widest N", "r"]
    assert turned.quick.tolist() == ["393,216", "0.0051"] and turned.study.tolist() == ["3,538,944", "0.405"]
    formatted = ladder.by_rung(table.assign(r=[0.0051, float("nan")]), leave_out=("site",), formats={"r": "{:.1%}"})
    assert formatted.quick.tolist() == ["393,216", "0.5%"] and formatted.study.tolist() == ["3,538,944", "–"]
