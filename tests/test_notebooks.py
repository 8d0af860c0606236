"""Every chapter executes under the smoke preset through papermill, exactly as `make book` runs it."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from pathlib import Path

import nbformat
import pandas as pd
import papermill
import pytest
from book_source import PASTED, numbered

from helpers import pipeline, runner
from helpers.chapters.configs import CONFIGS
from helpers.core import paths
from helpers.publish import corpora, toc
from helpers.publish.bundle import BundleError

ROOT = paths.project_root()
CHAPTERS = toc.chapters_in_book_order(ROOT)
GLUE_REFERENCE = re.compile(r"\{glue(?::\w+)?\}`([A-Za-z0-9_]+)")
GLUE_DIRECTIVE = re.compile(r"```\{glue(?::\w+)?\}\s+([A-Za-z0-9_]+)")
GLUED_PICTURE = re.compile(r'glue_(figure|table)\(\s*"(\w+)"')


def source(chapter: str) -> Path:
    return ROOT / "notebooks" / f"{chapter}.ipynb"


def glued(notebook: nbformat.NotebookNode) -> dict[str, dict]:
    values = {}
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            name = output.get("metadata", {}).get("scrapbook", {}).get("name")
            if name:
                prefix = output["metadata"]["scrapbook"].get("mime_prefix", "")
                values[name] = {mime.removeprefix(prefix): data for mime, data in output["data"].items()}
    return values


def no_bundles(runs: Path) -> Path:
    """An empty bundles folder beside the smoke run: the ladder's first case, this run alone."""
    folder = runs.with_name(runs.name + "_no_bundles")
    folder.mkdir(exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    runs = tmp_path_factory.mktemp("runs")
    before = {c: hashlib.sha256(source(c).read_bytes()).hexdigest() for c in CHAPTERS}
    log: list[str] = []
    outputs = runner.execute("smoke", runs_dir=runs, log=log.append, bundles_dir=no_bundles(runs))
    return runs, outputs, before, log


def test_toc_lists_every_notebook_and_every_notebook_has_a_config():
    assert sorted(CHAPTERS) == sorted(p.stem for p in (ROOT / "notebooks").glob("*.ipynb"))
    assert set(CHAPTERS) == set(CONFIGS)


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_source_notebook_is_committed_without_outputs(chapter):
    nb = nbformat.read(source(chapter), as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_parameters_cell_matches_the_config_and_is_validated_next(chapter):
    nb = nbformat.read(source(chapter), as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert "parameters" in code[0].metadata.get("tags", [])
    namespace: dict = {}
    exec(code[0].source, namespace)
    config_cls = CONFIGS[chapter]
    names = {k for k in namespace if not k.startswith("__")}
    assert names == set(config_cls().as_dict())
    config_cls.from_namespace(namespace)  # the notebook's own defaults are valid
    assert f"{config_cls.__name__}.from_namespace(globals())" in code[1].source


def test_every_chapter_executes_and_sources_stay_untouched(smoke_run):
    runs, outputs, before, _ = smoke_run
    assert [p.stem for p in outputs] == CHAPTERS
    for chapter, output in zip(CHAPTERS, outputs):
        assert output.exists() and output.with_suffix(".key").exists()
        assert hashlib.sha256(source(chapter).read_bytes()).hexdigest() == before[chapter]
        assert not list(output.parent.glob("*.tmp*"))


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_every_glue_reference_in_the_prose_is_glued(smoke_run, chapter):
    _, outputs, _, _ = smoke_run
    nb = nbformat.read(outputs[CHAPTERS.index(chapter)], as_version=4)
    text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    referenced = set(GLUE_REFERENCE.findall(text)) | set(GLUE_DIRECTIVE.findall(text))
    assert referenced, "chapters quote their numbers through glue"
    assert referenced <= set(glued(nb))


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_provenance_is_recorded(smoke_run, chapter):
    runs, _, _, _ = smoke_run
    record = json.loads((runs / "smoke" / "results" / chapter / "provenance.json").read_text())
    assert record["preset"] == "smoke" and record["chapter"] == chapter
    assert "runs_dir" not in record["parameters"] and record["parameters"]["preset"] == "smoke"
    assert record["wall_time_s"] > 0 and record["versions"]["torch"].startswith("2.13")
    assert record["device"] == "cpu"


def test_results_hold_no_absolute_path_of_the_run(smoke_run):
    """Results can be moved (and bundled): no CSV or JSON names the folder the run lived in."""
    runs, _, _, _ = smoke_run
    root = str(runs.resolve())
    files = sorted((runs / "smoke" / "results").rglob("*.*"))
    assert files
    leaking = [f.name for f in files if f.suffix in (".csv", ".json") and root in f.read_text()]
    assert not leaking
    saes = pd.read_csv(runs / "smoke" / "results" / "04_saes" / "sae_metrics.csv")
    assert all((runs / "smoke" / folder / "summary.json").exists() for folder in saes.folder)


def stage_folders(run: Path) -> set[str]:
    """Every cached stage of a run (models, SAEs, activations), as paths relative to it."""
    return {str(p.relative_to(run)) for kind in ("models", "saes", "activations") for p in (run / kind).glob("*/*")}


def test_the_pipeline_writes_the_notebooks_results_byte_for_byte(smoke_run, tmp_path):
    """`python -m helpers.pipeline run` on the notebooks' cached stages (results and executed notebooks
    left behind) rewrites every results file identically, provenance aside, and trains nothing again."""
    runs, _, _, _ = smoke_run
    copy = tmp_path / "runs"
    shutil.copytree(runs, copy, ignore=lambda folder, names: [n for n in names if Path(folder) == runs / "smoke" and n in ("results", "notebooks")])
    stages = stage_folders(copy / "smoke")
    assert stages and not (copy / "smoke" / "results").exists()
    pipeline.main(["run", "--preset", "smoke", "--runs-dir", str(copy)])
    ours, theirs = runs / "smoke" / "results", copy / "smoke" / "results"
    files = sorted(p.relative_to(ours) for p in ours.rglob("*") if p.is_file() and p.name != "provenance.json")
    assert len(files) >= 40
    assert files == sorted(p.relative_to(theirs) for p in theirs.rglob("*") if p.is_file() and p.name != "provenance.json")
    assert [str(f) for f in files if (ours / f).read_bytes() != (theirs / f).read_bytes()] == []
    assert stage_folders(copy / "smoke") == stages
    for chapter in CHAPTERS:
        record = json.loads((theirs / chapter / "provenance.json").read_text())
        assert record["parameters"] == json.loads((ours / chapter / "provenance.json").read_text())["parameters"]


def test_scaling_chapter_results_are_machine_readable(smoke_run):

    runs, outputs, _, _ = smoke_run
    results = runs / "smoke" / "results" / "01_scaling_laws"
    counts = pd.read_csv(results / "parameter_counts.csv")
    assert counts["d_model"].tolist() == [64, 128]  # the smoke preset's widths reached the notebook
    refit = json.loads((results / "talk_refit.json").read_text())
    assert refit["refit_train"]["alpha"] == pytest.approx(0.0793, abs=5e-4)
    nb = nbformat.read(outputs[0], as_version=4)
    assert float(glued(nb)["refit_alpha"]["text/plain"]) == pytest.approx(refit["refit_train"]["alpha"])


def test_superposition_chapter_results_are_machine_readable(smoke_run):

    from helpers.theory import superposition as sp

    runs, _, _, _ = smoke_run
    results = runs / "smoke" / "results" / "02_superposition"
    grid = pd.read_csv(results / "required_sparsity.csv")
    assert sorted(set(grid["width ratio k"])) == [2, 4]  # the smoke preset's small multiples
    for row in grid.itertuples():
        assert row[3] == pytest.approx(sp.partner_sparsity(row[2], row[1]))
    table = pd.read_csv(results / "model_a_b.csv").set_index("quantity")
    assert table.loc["features per neuron", "B / A"] == pytest.approx(2)
    toy = pd.read_csv(results / "toy_importance_demo.csv")
    assert toy["sparsity"].tolist() == [0.0, 0.95]
    assert pd.read_csv(results / "dimensions_per_feature.csv")["inverse_density"].tolist() == pytest.approx([2, 5])


def test_language_models_chapter_results_are_machine_readable(smoke_run):

    runs, _, _, _ = smoke_run
    results = runs / "smoke" / "results" / "03_language_models"
    table = pd.read_csv(results / "models.csv")
    assert table.role.value_counts().to_dict() == {"family": 2, "pair": 2, "seed control": 2}  # two seeds of each width
    assert table[table.role == "pair"]["N (12·L·d²)"].nunique() == 1
    for folder in table.folder:  # relative to the run's folder
        model = runs / "smoke" / folder
        assert (model / "model.pt").exists() and not (model / "checkpoint.pt").exists()
    assert json.loads((results / "conversion_check.json").read_text())["max_abs_logit_diff"] <= 1e-4
    corpus = json.loads((results / "corpus.json").read_text())
    assert corpus["spec"] == "stdlib" and len(corpus["fingerprint"]) == 64
    curves = pd.read_csv(results / "training_curves.csv")
    assert set(curves.model) == set(table.model)


def test_sae_chapter_results_are_machine_readable_and_load_in_saelens(smoke_run):
    from sae_lens import SAE

    runs, _, _, _ = smoke_run
    results = runs / "smoke" / "results" / "04_saes"
    table = pd.read_csv(results / "sae_metrics.csv")
    models = pd.read_csv(runs / "smoke" / "results" / "03_language_models" / "models.csv").model.unique()
    assert len(table) == 2 * len(models) and set(table.model) == set(models)
    wide = table[table.n_layers == 8]  # the smoke pair's 8-layer member: sites mapped to the same relative depth
    assert set(wide.hook) == {"blocks.4.hook_mlp_out", "blocks.4.hook_resid_pre"}
    assert table.loss_recovered.notna().all() and (table.l0 > 0).all()
    assert (table.ce_ablated > table.ce_clean).any()
    sae = SAE.load_from_disk(runs / "smoke" / table.folder[0])
    assert sae.cfg.d_sae == 64
    assert set(pd.read_csv(results / "spliced_loss_fits.csv").source) == {"this run", "original run"}


def test_universality_chapter_results_are_exact_and_consistent(smoke_run):
    import numpy as np

    from helpers.universality.activations import SparseActivations

    runs, _, _, _ = smoke_run
    results = runs / "smoke" / "results" / "05_universality"
    latents = pd.read_csv(results / "latents.csv")
    summary = pd.read_csv(results / "pair_summary.csv")
    assert set(summary.kind) == {"cross-width", "SAE seed", "seed control", "shuffled", "random model", "token identity", "untrained pair"}
    untrained = summary[summary.kind == "untrained pair"]
    # both orders of the one width pair, for each of the two seeds
    assert len(untrained) == 4 and set(untrained.scored) == {"L2-d16-random", "L2-d32-random", "L2-d16-random-seed1", "L2-d32-random-seed1"}
    assert set(untrained.lineage) == {"L2-d16-random", "L2-d32-random"}
    assert not summary[summary.kind == "token identity"].scored.str.contains("-random").any()  # read for token-likeness only
    seed_pairs = summary[summary.kind == "seed control"]
    assert set(zip(seed_pairs.lineage, seed_pairs.against_lineage)) == {("L2-d16", "L2-d16"), ("L2-d32", "L2-d32")}  # every width
    assert summary[summary.kind == "token identity"]["share_one_to_one_0.5"].isna().all()  # no matrix, no one-to-one share
    intervals = pd.read_csv(results / "kind_intervals.csv")
    assert set(intervals.kind) == {"cross-width", "untrained pair", "seed control", "SAE seed"}
    assert (intervals[intervals.kind == "cross-width"].lm_seeds == 2).all()
    assert (intervals.low <= intervals.value + 1e-12).all() and (intervals.value <= intervals.high + 1e-12).all()
    assert set(latents.site) == {"blocks.1.hook_mlp_out", "blocks.1.hook_resid_pre"}
    saes = pd.read_csv(results / "saes.csv")
    site = "blocks.1.hook_resid_pre"
    assert (saes[saes.site == site].groupby("model").size() >= 1).all()
    assert saes[(saes.site == site) & saes.role.str.contains("family")].groupby("model").size().eq(2).all()  # two SAE seeds
    seeds = saes[saes.site == site].groupby("model").sae_seed.apply(set)
    assert not (seeds[[m for m in seeds.index if m.endswith("-seed1")][0]] & seeds[seeds.index[0]])  # control: its own SAE seeds
    assert not any(str(f).startswith("/") for f in saes.folder) and not any(str(f).startswith("/") for f in saes.activations)
    # one-to-one partners are unique: at most one latent of A per partner
    cross = summary[summary.kind == "cross-width"]
    assert (cross["partners_0.5"] <= (cross.latents - cross.dead)).all()
    assert cross.original_r2.notna().all() and cross.original_below_c.between(0, 1).all()
    assert (cross.original_is_fit == (cross.original_r2 > 0)).all()
    alive = latents[~latents.dead]
    assert alive.universality.between(-1 - 1e-9, 1 + 1e-9).all() and latents[latents.dead].universality.isna().all()
    assert pd.read_csv(results / "r_grid.csv").shape == (2, 3)  # two widths: d_model and one column each

    # One pair recomputed from the stored real SAE activations with a dense float64 brute force.
    pair = latents[(latents.site == site) & (latents.kind == "cross-width")].iloc[0]

    def folder(model: str, seed: int) -> Path:
        return runs / "smoke" / saes[(saes.model == model) & (saes.site == site) & (saes.sae_seed == seed)].activations.iloc[0]

    a, b = (SparseActivations.open(folder(m, s)).dense() for m, s in ((pair.scored, pair.scored_seed), (pair.against, pair.against_seed)))
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = np.corrcoef(np.concatenate([a, b], axis=1).T)[: a.shape[1], a.shape[1] :]
    expected = np.nanmax(np.where(np.isnan(corr), -np.inf, corr), axis=1)
    expected[~np.isfinite(expected)] = np.nan
    ours = (
        latents[(latents.site == site) & (latents.kind == "cross-width") & (latents.scored == pair.scored) & (latents.against == pair.against)]
        .sort_values("latent")
        .universality.to_numpy()
    )
    np.testing.assert_allclose(ours, expected, atol=1e-6, equal_nan=True)
    np.testing.assert_allclose(
        latents[(latents.scored == pair.scored) & (latents.site == site)].drop_duplicates("latent").sort_values("latent").max_activation,
        a.max(axis=0),
        rtol=1e-6,
    )

    # Keeping every latent splices the whole SAE: chapter 4's spliced loss on the same windows.
    losses = pd.read_csv(results / "top_fraction_losses.csv")
    assert set(losses.rule) == {"most important", "random", "least important"}
    full = losses[(losses.keep_fraction == 1.0) & (losses.rule == "random")].set_index("model").ce_spliced
    sae_metrics = pd.read_csv(runs / "smoke" / "results" / "04_saes" / "sae_metrics.csv")
    chapter_4 = sae_metrics[sae_metrics.site == site].set_index("model").ce_spliced
    assert full.to_dict() == pytest.approx(chapter_4.loc[full.index].to_dict(), abs=1e-5)
    controls = pd.read_csv(results / "controls.csv").set_index("kind")
    assert controls.mean_universality["shuffled"] < controls.mean_universality["seed control"]
    split = pd.read_csv(results / "shared_feature_split.csv")
    assert (split.matched <= split.latents).all() and np.allclose(split.shared_share + split.extra_share, 1)
    assert split.loss_wide_random.notna().all() and (split.n_eff_wide_all > 0).all()


def test_training_dynamics_ends_at_chapter_5s_pair_and_starts_at_initialisation(smoke_run):
    """The last point of both axes is chapter 5's SAE pair (same r to float precision); the SAE kept
    with checkpoints ended identical to chapter 4's; step 0 is the untrained model (loss ≈ ln V)."""
    import math

    import torch
    from safetensors.torch import load_file

    runs, _, _, _ = smoke_run
    results = runs / "smoke" / "results"
    r = pd.read_csv(results / "06_training_dynamics" / "r_along_training.csv")
    stages = pd.read_csv(results / "06_training_dynamics" / "stages.csv")
    assert sorted(r[r.axis == "language models"].lm_step.unique()) == [0, 16, 32]
    assert r[r.axis == "SAEs"].sae_tokens.nunique() == 3  # two checkpoints and the finished SAE
    last = {axis: group[group.lm_fraction.eq(1) & group.sae_fraction.eq(1)].set_index("scored").r for axis, group in r.groupby("axis")}
    assert last["language models"].to_dict() == last["SAEs"].to_dict()
    summary = pd.read_csv(results / "05_universality" / "pair_summary.csv")
    first = summary[
        (summary.kind == "cross-width")
        & (summary.site == "blocks.1.hook_resid_pre")
        & (summary.scored_seed == summary.scored_seed.min())
        & (summary.against_seed == summary.against_seed.min())
    ]
    for scored, value in last["SAEs"].items():
        assert value == pytest.approx(float(first[first.scored == scored].r.iloc[0]), abs=1e-12)
    metrics = pd.read_csv(results / "04_saes" / "sae_metrics.csv")
    for model in ("L2-d16", "L2-d32"):
        chapter_4 = runs / "smoke" / metrics[(metrics.model == model) & (metrics.site == "blocks.1.hook_resid_pre")].folder.iloc[0]
        kept = chapter_4.with_name(chapter_4.name + "-checkpoints2")
        ours, theirs = (load_file(str(folder / "sae_weights.safetensors")) for folder in (kept, chapter_4))
        assert all(torch.equal(ours[k], theirs[k]) for k in theirs)
    untrained = stages[(stages.axis == "language models") & (stages.lm_step == 0)]
    assert (untrained.lm_loss - math.log(512)).abs().max() < 0.05
    trained = stages[(stages.axis == "language models") & (stages.lm_step == 32)]
    assert (trained.lm_loss.to_numpy() < untrained.lm_loss.to_numpy()).all()
    assert not any(str(f).startswith("/") for f in stages.folder)


def test_training_dynamics_stops_before_work_when_a_snapshot_is_missing(smoke_run, tmp_path):
    import shutil

    from helpers.chapters import dynamics, model_suite
    from helpers.chapters.configs import DynamicsConfig

    shared, _, _, _ = smoke_run
    runs = tmp_path / "runs"
    shutil.copytree(shared / "smoke", runs / "smoke")
    shutil.copytree(shared / "cache", runs / "cache")
    cfg = DynamicsConfig.from_params(preset="smoke", device="cpu", runs_dir=str(runs), lm_steps=[0, 16])
    lm = cfg.universality().saes().language_models()
    _, data = model_suite.prepare_data(lm)
    trained = model_suite.train_all(lm, data)
    shutil.rmtree(trained["L2-d32"].folder / "snapshots")
    saes_before = sorted(p.name for p in (runs / "smoke" / "saes" / "L2-d32").iterdir())
    with pytest.raises(dynamics.MissingSnapshotError, match="step-000016.pt is missing: L2-d32"):
        dynamics.run(cfg)
    assert sorted(p.name for p in (runs / "smoke" / "saes" / "L2-d32").iterdir()) == saes_before


def test_equal_n_check_reuses_chapter_3_and_matches_every_pair(smoke_run):
    """Chapter 7 trains every shape from every seed with chapter 3's recipe (chapter 3's models found
    in its cache, same loss), sweeps the SAE sizes at sites of the same relative depth, and matches
    every pair of models once; its summary is what its tables give."""
    import itertools

    runs, _, _, _ = smoke_run
    results = runs / "smoke" / "results"
    models = pd.read_csv(results / "07_equal_n" / "models.csv").set_index("model")
    assert sorted(models.index) == ["L2-d32", "L2-d32-seed1", "L8-d16", "L8-d16-seed1"]
    chapter_3 = pd.read_csv(results / "03_language_models" / "models.csv").drop_duplicates("model").set_index("model")
    for name in ("L2-d32", "L8-d16"):  # chapter 3's pair, trained once
        assert models.val_loss[name] == chapter_3.final_val_loss[name]
    assert models.site.to_dict() == {
        "L2-d32": "blocks.1.hook_resid_mid",
        "L2-d32-seed1": "blocks.1.hook_resid_mid",
        "L8-d16": "blocks.6.hook_resid_pre",
        "L8-d16-seed1": "blocks.6.hook_resid_pre",
    }
    assert (models.kaplan_N == 12 * models.n_layers * models.d_model**2).all()
    assert (models.total == models.non_embedding + models.embedding).all()
    sweep = pd.read_csv(results / "07_equal_n" / "sae_sweep.csv")
    assert sorted(zip(sweep.model, sweep.d_sae)) == sorted(itertools.product(models.index, [32, 64]))
    assert all((runs / "smoke" / folder / "summary.json").exists() for folder in sweep.folder)
    pairs = pd.read_csv(results / "07_equal_n" / "matched_pairs.csv")
    assert sorted(map(sorted, zip(pairs["first"], pairs["second"]))) == sorted(map(sorted, itertools.combinations(models.index, 2)))
    assert (pairs.kind == "same shape, two seeds").sum() == 2 and (pairs.matched <= pairs.live).all()
    summary = json.loads((results / "07_equal_n" / "summary.json").read_text())
    mean = models.groupby("shape").val_loss.mean()
    assert summary["loss"]["gap_nats"] == pytest.approx(mean.max() - mean.min())
    assert [(s["narrower"], s["wider"]) for s in summary["shifts"]] == [("L8-d16", "L2-d32")]


def test_discussion_reads_every_claim_from_the_results(smoke_run):

    runs, _, _, _ = smoke_run
    results = runs / "smoke" / "results" / "10_discussion"
    claims = pd.read_csv(results / "claims.csv")
    assert len(claims) == 3 and set(claims.verdict) <= {"reproduced", "not reproduced", "inconclusive at this scale"}
    new = pd.read_csv(results / "new_measurements.csv")
    assert len(new) == 21 and set(new.answer) <= {"yes", "no", "inconclusive at this scale"}  # every control measured here
    summary = json.loads((runs / "smoke" / "results" / "06_training_dynamics" / "summary.json").read_text())
    for axis, values in summary["axes"].items():  # chapter 6's rule, applied again to its own points: the same answer
        answer = new[new.measurement.str.startswith(f"r grows as the {axis} train")].answer.iloc[0]
        assert answer == values["verdict"]
    judged = json.loads((runs / "smoke" / "results" / "05_universality" / "verdicts.json").read_text())
    assert claims[claims.claim == "importance predicts universality"].verdict.iloc[0] == judged["importance"]["verdict"]
    assert {"rule", "control", "smoke"} <= set(claims.columns) and claims.control.str.len().min() > 0
    equal_n = json.loads((runs / "smoke" / "results" / "07_equal_n" / "summary.json").read_text())
    comparable = new[new.measurement == "shapes of equal N reach comparable loss (chapter 7)"].answer.iloc[0]
    assert comparable == ("yes" if equal_n["loss"]["comparable"] else "no")
    at_matched = new[new.measurement.str.contains("at matched loss")].set_index("measurement").answer
    assert len(at_matched) == 2
    assert at_matched.iloc[0] == ("yes" if equal_n["matched_loss"]["loss"]["comparable"] else "no")
    assert at_matched.iloc[1] == equal_n["matched_loss"]["verdict"]


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_every_glued_figure_and_table_is_pasted_once_with_a_label_and_a_caption(chapter):
    cells = nbformat.read(source(chapter), as_version=4).cells
    glued = {key: kind for cell in cells if cell.cell_type == "code" for kind, key in GLUED_PICTURE.findall(cell.source)}
    pasted = [found for cell in cells if cell.cell_type == "markdown" for found in PASTED.findall(cell.source)]
    assert sorted(key for key, _, _ in pasted) == sorted(glued), "each glued figure or table is pasted exactly once"
    for key, label, caption in pasted:
        assert label.startswith({"figure": "fig-", "table": "tab-"}[glued[key]]), (key, label)
        assert len(caption.split()) >= 5, (label, caption)
    for cell in cells:
        if cell.cell_type == "code" and GLUED_PICTURE.search(cell.source):  # shown once in the book: where it is pasted
            assert "remove-output" in cell.metadata.get("tags", []), (chapter, cell.source[:80])
    assert not any("plt.show()" in cell.source for cell in cells if cell.cell_type == "code"), "a figure is glued, not shown"


def test_labels_are_unique_across_the_book():
    labels = [label for chapter in CHAPTERS for label, _ in numbered(chapter)]
    assert len(labels) == len(set(labels)) > 40


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_every_picture_and_table_the_chapter_shows_is_numbered(smoke_run, chapter):
    """Glued figures carry a PNG and a vector PDF (also when the caller is headless: the runner gives
    kernels the inline backend); no cell shows an image or a table outside a numbered figure or table."""
    _, outputs, _, _ = smoke_run
    executed = nbformat.read(outputs[CHAPTERS.index(chapter)], as_version=4)
    values = glued(executed)
    for cell in executed.cells:
        if cell.cell_type != "code":
            continue
        for kind, key in GLUED_PICTURE.findall(cell.source):
            assert kind == "table" or {"image/png", "application/pdf"} <= set(values[key]), (chapter, key)
        captioned = "figure" in cell.metadata.get("mystnb", {})
        for output in cell.outputs:
            shown = output.get("output_type") in ("display_data", "execute_result") and "scrapbook" not in output.get("metadata", {})
            if shown and {"image/png", "text/html"} & set(output.get("data", {})):
                assert captioned, (chapter, cell.source[:80])


def test_no_chapter_writes_to_stderr(smoke_run):
    _, outputs, _, _ = smoke_run
    for output in outputs:
        for cell in nbformat.read(output, as_version=4).cells:
            for out in cell.get("outputs", []):
                assert not (out.get("output_type") == "stream" and out.get("name") == "stderr"), (output.name, out["text"][:200])


def test_the_smoke_book_builds_without_warnings(smoke_run, tmp_path):
    runs, outputs, _, _ = smoke_run
    interrupted = outputs[1].parent / f".{outputs[1].stem}.x1y2.tmp.ipynb"  # what a run killed mid-write leaves
    interrupted.write_text("{")
    html = runner.build("smoke", runs_dir=runs, output=tmp_path, log=lambda line: None)
    pages = {p.relative_to(html).as_posix() for p in html.rglob("*.html")}
    assert {f"notebooks/{c}.html" for c in CHAPTERS} <= pages
    assert "book/intro.html" in pages
    intro = (html / "book" / "intro.html").read_text()
    glance = intro[intro.index("Findings at a glance") :]
    assert "<table" in glance and "smoke, widths" in glance and "importance predicts universality" in glance
    assert 'href="../notebooks/05_universality.html' in glance  # each row links to the chapter that measures it
    cite = intro[intro.index("How to cite") :]
    assert re.search(r"version [0-9a-f]{12}(-dirty)? \(git commit\), built \d{4}-\d{2}-\d{2}", re.sub(r"<[^>]+>", "", cite))
    for number, chapter in enumerate(CHAPTERS, start=1):  # figures and tables numbered per chapter, in reading order
        page = (html / "notebooks" / f"{chapter}.html").read_text()
        assert "tag_injected-parameters" not in page and "FloatProgressModel" not in page  # quiet pages: no papermill cell, no progress bars
        assert "x-thebe-config" not in page and "THEBE_JS_URL" not in page  # no leftover Thebe defaults
        paths_as_alt = [alt for alt in re.findall(r'<img alt="([^"]*)"', page) if re.search(r"_images/|\.(png|svg|jpe?g)$", alt)]
        assert not paths_as_alt, (chapter, paths_as_alt[:2])  # figures are described by their captions
        labels_as_alt = [alt for alt in re.findall(r'<img alt="([^"]*)"', page) if re.search(r"\b(tab|fig|ch|eq)-[a-z0-9-]+", alt)]
        assert not labels_as_alt, (chapter, labels_as_alt[:2])  # with its references resolved ("Table 3.2", not "tab-models")
        assert re.search(r"preset <code[^>]*><span class=\"pre\">smoke</span></code> at commit", page), chapter
        counts = {"Figure": 0, "Table": 0}
        for label, kind in numbered(chapter):
            counts[kind] += 1
            at = page.index(f'id="{label}"')
            caption = re.search(r'class="caption-number">([^<]*)<', page[at:]).group(1).strip()
            assert caption == f"{kind} {number}.{counts[kind]}", (chapter, label, caption)
    # the latent browser beside the book: every trained model's first SAE, bounded, linked from chapter 5
    browser = json.loads((html / "latents" / "latents.json").read_text())
    assert (html / "latents" / "index.html").exists() and (html / "latents" / "data.js").exists()
    assert browser["preset"] == "smoke" and len(browser["saes"]) >= 2
    for sae in browser["saes"]:
        shown = browser["latents"][sae["key"]]
        assert len(shown) == sae["shown"] <= sae["live"] and sae["shown"] <= browser["limit"] + 2 * 2 * 3  # + the example table's latents
        assert all(len(latent["histogram"]["counts"]) == 16 and latent["matches"] and len(latent["promotes"]) == 6 for latent in shown)
    chapter_5 = (html / "notebooks" / "05_universality.html").read_text()
    assert 'href="../latents/index.html"' in chapter_5
    # data to download: each figure's files; beside the ladder, this run's (the smoke run reads no bundle); the
    # findings link each committed bundle's manifest
    assert re.search(r'Data: <a class="reference download internal" download="" href="../_downloads/\w+/latents.csv"', chapter_5)
    assert "The data of this section: this run’s results files" in chapter_5 and "manifest.json" not in chapter_5
    if any(entry.is_dir() for entry in (paths.project_root() / "results").iterdir()):
        assert re.search(r'href="../_downloads/\w+/manifest.json"', intro)
    interrupted.unlink()


def test_pipeline_plan_names_every_stage_the_chapters_cached(smoke_run):
    from helpers import pipeline

    runs, _, _, _ = smoke_run
    jobs = pipeline.plan("smoke", str(runs))
    assert all(job.done for job in jobs)
    assert {job.folder.name for job in jobs if job.kind == "model"} == {p.name for p in (runs / "smoke" / "models").iterdir()}
    chapter_5 = pd.read_csv(runs / "smoke" / "results" / "05_universality" / "saes.csv")  # chapter 4's SAEs and the replicates
    assert {job.folder for job in jobs if job.kind == "sae"} == {runs / "smoke" / f for f in chapter_5[chapter_5.role != "random init"].folder}


def test_every_chapter_writes_exactly_its_declared_results_files(smoke_run):
    """A bundle keeps only what today's code writes (``RESULT_FILES``): the declaration must be the truth."""
    from helpers.chapters import module

    runs, _, _, _ = smoke_run
    for chapter in CHAPTERS:
        written = {p.name for p in (runs / "smoke" / "results" / chapter).iterdir() if not p.name.startswith(".")}
        assert written == {*module(chapter).RESULT_FILES, "provenance.json"}, chapter


def test_rerun_reuses_executed_notebooks(smoke_run):
    runs, outputs, _, _ = smoke_run
    stamp = outputs[0].stat().st_mtime_ns
    log: list[str] = []
    runner.execute("smoke", runs_dir=runs, log=log.append, bundles_dir=no_bundles(runs))
    assert all("unchanged" in line for line in log)
    assert outputs[0].stat().st_mtime_ns == stamp


def test_bad_parameter_stops_the_notebook_before_it_writes(tmp_path):
    runs = tmp_path / "runs"
    with pytest.raises(papermill.PapermillExecutionError) as info:
        papermill.execute_notebook(
            source("01_scaling_laws"),
            tmp_path / "out.ipynb",
            parameters={"preset": "smoke", "runs_dir": str(runs), "widths": [128, 200]},
            cwd=ROOT,
            progress_bar=False,
        )
    assert info.value.ename == "ParameterError"
    assert "parameter 'widths' = 200" in info.value.evalue
    assert not runs.exists()


def test_runner_rejects_a_bad_preset_before_executing(tmp_path):
    from helpers.core.parameters import ParameterError

    with pytest.raises(ParameterError, match="'preset' = 'nope'"):
        runner.execute("nope", runs_dir=tmp_path)
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(ValueError, match="--only: 99_missing"):
        runner.execute("smoke", runs_dir=tmp_path, only=["99_missing"])
    assert list(tmp_path.iterdir()) == []


#: The chapter whose ladder section the bundles test executes and reads back: the discussion, which
#: reads every chapter's bundled files (each notebook costs a kernel; the quick book builds every
#: chapter's section with the committed bundles, and the ladder functions are tested on bundles above).
LADDER_CHAPTERS = ["10_discussion"]


def bundles_of(runs, root, presets):
    """Bundles of the smoke run's results filed under other presets' names (a stand-in for their runs)."""
    import shutil

    from helpers.publish.bundle import make_bundle

    root.mkdir(parents=True, exist_ok=True)
    for preset in presets:
        shutil.copytree(runs / "smoke", runs / preset, dirs_exist_ok=True)
        make_bundle(preset, runs, root)
    return root


def test_ladder_has_one_rung_per_bundle(smoke_run, tmp_path):
    from helpers.chapters.configs import UniversalityConfig
    from helpers.publish import ladder

    runs, _, _, _ = smoke_run
    intervals = pd.read_csv(runs / "smoke" / "results" / "05_universality" / "r_intervals.csv")
    own_r = float(
        intervals[(intervals.level == "kind") & (intervals.kind == "cross-width") & (intervals.site == "blocks.1.hook_resid_pre")].r.iloc[0]
    )
    for presets in ([], ["study"], ["study", "quick"]):
        root = bundles_of(runs, tmp_path / f"bundles{len(presets)}", presets)
        cfg = UniversalityConfig.from_params(preset="smoke", runs_dir=str(runs), bundles_dir=str(root))
        rungs = ladder.rungs(cfg)
        assert [r.source for r in rungs].count("bundle") == len(presets) and len(rungs) == len(presets) + 1
        for table in (ladder.language_model_ladder(rungs), ladder.sae_ladder(rungs), ladder.universality_ladder(rungs)):
            assert sorted(table.rung) == sorted(["smoke", *presets])
        u = ladder.universality_ladder(rungs).set_index("rung")
        assert u.r["smoke"] == pytest.approx(own_r) and all(u.r[p] == pytest.approx(own_r) for p in presets)
        dynamics = ladder.dynamics_ladder(rungs).set_index("rung")
        assert all(dynamics.supports[p] == dynamics.supports["smoke"] for p in presets)
        assert set(ladder.dynamics_curves(rungs).rung) == {"smoke", *presets}
        equal_n = ladder.equal_n_ladder(rungs)
        assert sorted(equal_n.rung) == sorted(["smoke", *presets]) and set(equal_n.verdict) == {equal_n.verdict.iloc[0]}
        verdicts = ladder.verdict_ladder(rungs)
        assert list(verdicts.columns) == ["claim or measurement", "rule", "control", "reads a corpus", *[r.preset for r in rungs]]
        assert all((verdicts[p] == verdicts["smoke"]).all() for p in presets)  # the same files judged by the same rules
        for table in (ladder.geometry_ladder(rungs), ladder.counting_ladder(rungs)):
            assert sorted(table.rung) == sorted(["smoke", *presets]) and len(set(table.corpus)) == 1
        assert corpora.twins(rungs) == []  # the same corpus everywhere


def test_rungs_on_two_corpora_are_compared(smoke_run, tmp_path):
    from helpers.chapters.configs import DiscussionConfig
    from helpers.publish import ladder
    from helpers.publish.bundle import make_bundle

    runs, _, _, _ = smoke_run
    root = bundles_of(runs, tmp_path / "bundles", ["study"])
    shutil.copytree(runs / "smoke", runs / "study-en", dirs_exist_ok=True)
    provenance = runs / "study-en" / "results" / "03_language_models" / "provenance.json"
    record = json.loads(provenance.read_text())
    record["parameters"]["corpus"] = "debian-en"  # the same results, filed as if read from another corpus
    provenance.write_text(json.dumps(record))
    make_bundle("study-en", runs, root)
    rungs = ladder.rungs(DiscussionConfig.from_params(preset="smoke", runs_dir=str(runs), bundles_dir=str(root)))
    pairs = corpora.twins(rungs)
    assert [(a.preset, b.preset) for a, b in pairs] == [("smoke", "study-en"), ("study", "study-en")]  # this run is a twin too
    table = corpora.comparison(*pairs[1]).set_index("measure")
    assert (table["study (stdlib)"] == table["study-en (debian-en)"]).all()  # the same files on both sides
    assert set(table.intervals) <= {corpora.OVERLAP, corpora.NO_INTERVAL, corpora.NOT_MEASURED, corpora.SEED_RANGES}  # nothing apart
    chapter_5_and_8 = [m for m in table.index if not m.startswith("n*")]
    assert (table.loc[chapter_5_and_8].intervals != corpora.NOT_MEASURED).all()  # every measure read from the smoke run's files
    assert table.loc["r(importance, universality), cross-width"].intervals == corpora.OVERLAP
    section = corpora.section(rungs)
    assert "`smoke` (stdlib) and `study-en` (debian-en) (the first of 2 such pairs)" in section.lead
    claims = section.claims.splitlines()
    judged = ladder.verdict_ladder(rungs)
    assert len(claims) == len(judged) and all("changed with the corpus" not in c for c in claims)
    assert sum("read no corpus" in c for c in claims) == (~judged["reads a corpus"]).sum() == 4  # chapter 8's toy SAEs, two regimes
    assert "changed the answer of 0 " in section.answer


def test_ladder_chapters_show_two_bundles_and_stop_on_a_corrupt_one(smoke_run, tmp_path):
    import shutil

    shared, _, _, _ = smoke_run
    runs = tmp_path / "runs"  # a copy, so the module's smoke run keeps its outputs
    shutil.copytree(shared / "smoke", runs / "smoke")
    root = bundles_of(runs, tmp_path / "bundles", ["study", "quick"])
    outputs = runner.execute("smoke", runs_dir=runs, only=LADDER_CHAPTERS, bundles_dir=root, log=lambda _: None)
    discussion = nbformat.read(outputs[CHAPTERS.index("10_discussion")], as_version=4)
    rungs_text = glued(discussion)["verdict_rungs"]["text/markdown"]
    assert all(f"`{p}` ({s})" in rungs_text for p, s in (("quick", "bundle"), ("smoke", "this run"), ("study", "bundle")))
    data = glued(discussion)["ladder_data"]["text/markdown"]  # each bundle's files of the chapter and its manifest, to download
    assert all(
        f"results/bundles/{p}/10_discussion/claims.csv>`" in data and f"results/bundles/{p}/manifest.json>`" in data for p in ("quick", "study")
    )
    damaged = root / "study" / "05_universality" / "r_intervals.csv"
    damaged.write_text(damaged.read_text().replace("cross-width", "cross-widths", 1))
    for only in (["10_discussion"], ["01_scaling_laws"]):  # a cached ladder chapter, then one without a ladder
        with pytest.raises(BundleError, match="r_intervals.csv: its sha256 differs"):
            runner.execute("smoke", runs_dir=runs, only=only, bundles_dir=root, log=lambda _: None)


def test_ladder_chapters_without_bundles_say_so(smoke_run):
    _, outputs, _, _ = smoke_run
    for chapter, name in (
        ("03_language_models", "ladder_rungs"),
        ("06_training_dynamics", "dyn_ladder_rungs"),
        ("07_equal_n", "eq_ladder_rungs"),
        ("08_geometry", "geo_ladder_rungs"),
        ("09_counting", "count_ladder_rungs"),
        ("10_discussion", "verdict_rungs"),
    ):
        text = glued(nbformat.read(outputs[CHAPTERS.index(chapter)], as_version=4))[name]["text/markdown"]
        assert text.startswith("only this run (`smoke`)")
    discussion = glued(nbformat.read(outputs[CHAPTERS.index("10_discussion")], as_version=4))
    assert "stays open" in discussion["corpus_lead"]["text/markdown"]  # one rung: no corpus to compare
    for chapter, name in (("08_geometry", "geo_ladder_sentence"), ("09_counting", "count_ladder_sentence")):
        assert glued(nbformat.read(outputs[CHAPTERS.index(chapter)], as_version=4))[name]["text/markdown"].startswith("At `smoke` (stdlib)")
