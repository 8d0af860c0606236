"""Results bundles: round trip, validation (missing, changed, unlisted files, other schemas), size
limit, and the cache fingerprint the ladder chapters use."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from helpers.publish import bundle
from helpers.publish.bundle import BundleError, committed_bundles, make_bundle, read_bundle
from helpers.runner import bundles_fingerprint

CHAPTERS = ["03_language_models", "05_universality"]
#: A table each chapter's code writes (its RESULT_FILES), standing in for all of them.
TABLE = {"03_language_models": "models", "05_universality": "r_grid"}


@pytest.fixture
def finished_run(tmp_path):
    """A finished two-chapter run of preset 'quick': tables, records, provenance, plus files that
    must not travel (weights, activations, temporary files, a file today's code no longer writes)."""
    runs = tmp_path / "runs"
    for number, chapter in enumerate(CHAPTERS):
        results = runs / "quick" / "results" / chapter
        results.mkdir(parents=True)
        pd.DataFrame({"model": ["a", "b"], "loss": [4.5, 4.25 + number]}).to_csv(results / f"{TABLE[chapter]}.csv", index=False)
        (results / "provenance.json").write_text(
            json.dumps(
                {
                    "chapter": chapter,
                    "parameters": {"seed": 0},
                    "versions": {"torch": "2.13.0"},
                    "device_name": "a CPU",
                    "wall_time_s": 10.0 + number,
                    "git_commit": "abc123",
                }
            )
        )
        (results / ".table.xyz.tmp.csv").write_text("half written")
    (runs / "quick" / "results" / CHAPTERS[1] / "verdicts.json").write_text(json.dumps({"verdict": "no"}))
    (runs / "quick" / "results" / CHAPTERS[1] / "shared_features.json").write_text(json.dumps({"stale": True}))
    (runs / "quick" / "results" / CHAPTERS[1] / "latents.csv").write_text("latent,universality\n0,0.5\n")
    (runs / "quick" / "models").mkdir()
    (runs / "quick" / "models" / "model.pt").write_bytes(b"\0" * 1024)
    return runs


def test_round_trip_copies_results_and_describes_them(finished_run, tmp_path):
    made = make_bundle("quick", finished_run, tmp_path / "results", chapters=CHAPTERS)
    assert made.folder == tmp_path / "results" / "quick" and made.preset == "quick"
    files = set(made.manifest["files"])
    assert files == {f"{c}/{n}" for c in CHAPTERS for n in (f"{TABLE[c]}.csv", "provenance.json")} | {f"{CHAPTERS[1]}/verdicts.json", "preset.yaml"}
    original = pd.read_csv(finished_run / "quick" / "results" / CHAPTERS[1] / "r_grid.csv")
    pd.testing.assert_frame_equal(made.table(CHAPTERS[1], "r_grid"), original)
    assert made.record(CHAPTERS[1], "verdicts") == {"verdict": "no"}
    assert bundle.version_problems(made.manifest) == []
    assert made.manifest["wall_time_s"] == {CHAPTERS[0]: 10.0, CHAPTERS[1]: 11.0}
    assert made.manifest["run_commits"] == {c: "abc123" for c in CHAPTERS}
    assert made.manifest["versions"] == {"torch": "2.13.0"} and made.manifest["device"] == "a CPU"
    assert read_bundle(made.folder).manifest == made.manifest
    assert [b.preset for b in committed_bundles(tmp_path / "results")] == ["quick"]
    # Re-bundling replaces the folder whole, leaving nothing beside it.
    again = make_bundle("quick", finished_run, tmp_path / "results", chapters=CHAPTERS)
    assert sorted(p.name for p in (tmp_path / "results").iterdir()) == ["quick"] and again.manifest["files"] == made.manifest["files"]


@pytest.mark.parametrize(
    "damage, named, message",
    [
        (lambda f: (f / CHAPTERS[0] / "models.csv").write_text("model,loss\na,9\n"), f"{CHAPTERS[0]}/models.csv", "sha256 differs"),
        (lambda f: (f / CHAPTERS[1] / "r_grid.csv").unlink(), f"{CHAPTERS[1]}/r_grid.csv", "listed in the manifest but missing"),
        (lambda f: (f / CHAPTERS[1] / "stray.csv").write_text("x\n1\n"), f"{CHAPTERS[1]}/stray.csv", "not listed in the manifest"),
        (
            lambda f: (f / "manifest.json").write_text(json.dumps({**json.loads((f / "manifest.json").read_text()), "schema": 0})),
            "manifest.json",
            "schema 0",
        ),
        (lambda f: (f / "manifest.json").unlink(), "manifest.json", "missing"),
    ],
)
def test_a_damaged_bundle_is_refused_naming_the_file(finished_run, tmp_path, damage, named, message):
    made = make_bundle("quick", finished_run, tmp_path / "results", chapters=CHAPTERS)
    damage(made.folder)
    with pytest.raises(BundleError, match=message) as info:
        committed_bundles(tmp_path / "results")
    assert info.value.path == made.folder / named and named in str(info.value)


def test_a_file_the_bundle_lacks_is_an_error_not_a_gap(finished_run, tmp_path):
    made = make_bundle("quick", finished_run, tmp_path / "results", chapters=CHAPTERS)
    with pytest.raises(BundleError, match="not in the bundle of preset 'quick'") as info:
        made.table(CHAPTERS[0], "r_intervals")
    assert info.value.path.name == "r_intervals.csv"


def test_unfinished_runs_oversized_bundles_and_bad_presets_stop_before_writing(finished_run, tmp_path, monkeypatch):
    (finished_run / "quick" / "results" / CHAPTERS[1] / "provenance.json").unlink()
    with pytest.raises(BundleError, match=f"chapter {CHAPTERS[1]} of preset 'quick' has not finished"):
        make_bundle("quick", finished_run, tmp_path / "results", chapters=CHAPTERS)
    assert not (tmp_path / "results").exists()
    with pytest.raises(ValueError, match="parameter 'preset' = 'nonesuch'"):
        make_bundle("nonesuch", finished_run, tmp_path / "results")
    (finished_run / "quick" / "results" / CHAPTERS[1] / "provenance.json").write_text(
        json.dumps({"parameters": {}, "versions": {}, "device_name": "a CPU", "wall_time_s": 1.0, "git_commit": "abc123"})
    )
    monkeypatch.setattr(bundle, "MAX_BYTES", 100)
    with pytest.raises(BundleError, match="over the 0 MiB limit") as info:
        make_bundle("quick", finished_run, tmp_path / "results", chapters=CHAPTERS)
    assert "this file is the largest" in str(info.value) and info.value.path.suffix in (".csv", ".json")
    assert not (tmp_path / "results").exists() or not any((tmp_path / "results").iterdir())


def test_a_bundle_is_one_version_of_the_code(finished_run, tmp_path, capsys):
    """Chapters run at two commits are refused before anything is written, naming the odd chapter's
    provenance; a committed bundle made otherwise (by hand, or by older code) is named by ``check``
    for its commits and for each file the current code does not write."""
    provenance = finished_run / "quick" / "results" / CHAPTERS[1] / "provenance.json"
    provenance.write_text(json.dumps({**json.loads(provenance.read_text()), "git_commit": "def456"}))
    with pytest.raises(BundleError, match="chapter 05_universality ran at commit def456, chapter 03_language_models at abc123") as info:
        make_bundle("quick", finished_run, tmp_path / "results", chapters=CHAPTERS)
    assert info.value.path == provenance and not (tmp_path / "results").exists()
    manifest = {
        "run_commits": {CHAPTERS[0]: "abc123", CHAPTERS[1]: "def456"},
        "files": {f"{CHAPTERS[1]}/shared_features.json": {}, "preset.yaml": {}},
    }
    problems = bundle.version_problems(manifest)
    assert len(problems) == 2 and "several commits" in problems[0] and "05_universality/shared_features.json is not written" in problems[1]
    provenance.write_text(json.dumps({**json.loads(provenance.read_text()), "git_commit": "abc123"}))
    made = make_bundle("quick", finished_run, tmp_path / "results", chapters=CHAPTERS)
    assert bundle.version_problems(made.manifest) == []
    bundle.main(["check", "--bundles-dir", str(tmp_path / "results")])
    assert "valid" in capsys.readouterr().out
    manifest_path = made.folder / "manifest.json"
    manifest_path.write_text(json.dumps({**made.manifest, "run_commits": {CHAPTERS[0]: "abc123", CHAPTERS[1]: "def456"}}))
    with pytest.raises(SystemExit):
        bundle.main(["check", "--bundles-dir", str(tmp_path / "results")])
    assert "not one version of the code" in capsys.readouterr().out
    with pytest.raises(BundleError, match="not one version of the code: its chapters ran at several commits.*def456") as info:
        read_bundle(made.folder)
    assert info.value.path == manifest_path and "make bundle PRESET=quick" in str(info.value)
    with pytest.raises(BundleError, match="several commits"):
        committed_bundles(tmp_path / "results")
    assert read_bundle(made.folder, one_version=False).manifest["run_commits"][CHAPTERS[1]] == "def456"


def test_reading_a_bundle_with_a_file_the_code_no_longer_writes_fails_naming_it(finished_run, tmp_path):
    """A stale file, listed in the manifest with its right hash (so no other check catches it), is
    refused on reading, by name; ``check`` reports it without stopping."""
    made = make_bundle("quick", finished_run, tmp_path / "results", chapters=CHAPTERS)
    stale = made.folder / CHAPTERS[1] / "shared_features.json"
    stale.write_text(json.dumps({"stale": True}))
    files = {**made.manifest["files"], f"{CHAPTERS[1]}/shared_features.json": {"sha256": bundle.sha256(stale), "bytes": stale.stat().st_size}}
    (made.folder / "manifest.json").write_text(json.dumps({**made.manifest, "files": files}))
    with pytest.raises(BundleError, match="05_universality/shared_features.json is not written by the current code"):
        read_bundle(made.folder)
    assert f"{CHAPTERS[1]}/shared_features.json" in read_bundle(made.folder, one_version=False).manifest["files"]


def test_bundle_fingerprint_changes_with_any_bundle(finished_run, tmp_path):
    root = tmp_path / "results"
    root.mkdir()
    empty = bundles_fingerprint(root)
    made = make_bundle("quick", finished_run, root, chapters=CHAPTERS)
    with_one = bundles_fingerprint(root)
    assert with_one != empty and bundles_fingerprint(root) == with_one
    (made.folder / "manifest.json").write_text((made.folder / "manifest.json").read_text().replace("a CPU", "b CPU"))
    assert bundles_fingerprint(root) not in (empty, with_one)
    (made.folder / CHAPTERS[0] / "models.csv").write_text("model,loss\na,9\n")
    with pytest.raises(BundleError, match="sha256 differs"):
        bundles_fingerprint(root)


def test_a_missing_bundles_folder_stops_the_run_before_any_notebook(tmp_path):
    from helpers import runner
    from helpers.core.parameters import ParameterError

    with pytest.raises(ParameterError, match="parameter 'bundles_dir'.*an existing folder"):
        committed_bundles(tmp_path / "nowhere")
    with pytest.raises(ParameterError, match="'bundles_dir'"):
        runner.execute("smoke", runs_dir=tmp_path / "runs", bundles_dir=tmp_path / "nowhere", log=lambda _: None)
    assert not (tmp_path / "runs").exists()
