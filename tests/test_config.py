"""Every kind of bad parameter fails fast with one error naming the parameter and what is allowed."""

from pathlib import Path

import pytest
import yaml

from helpers.chapters.configs import CONFIGS, ScalingLawsConfig, UniversalityConfig, load_preset
from helpers.core import paths
from helpers.core.parameters import ParameterError
from helpers.lm.corpus import parse_corpus
from helpers.lm.family import check_hook_names


def error_for(**params) -> ParameterError:
    with pytest.raises(ParameterError) as info:
        ScalingLawsConfig.from_params(**params)
    return info.value


def test_defaults_are_valid():
    config = ScalingLawsConfig.from_params()
    assert config.widths == [128, 256, 512, 768] and config.preset == "quick"


def test_unknown_preset_lists_the_preset_files():
    err = error_for(preset="fast")
    assert err.name == "preset"
    for name in ("smoke", "quick", "paper"):
        assert repr(name) in err.allowed


@pytest.mark.parametrize(
    "params,name,allowed",
    [
        ({"widths": "128"}, "widths", "a list of int"),
        ({"widths": [128, "256"]}, "widths", "a list of int"),
        ({"n_layers": 2.5}, "n_layers", "a int"),
        ({"seed": True}, "seed", "a int"),
        ({"device": 0}, "device", "a str"),
        ({"compute_budgets": ["lots"]}, "compute_budgets", "a list of float"),
    ],
)
def test_wrong_types(params, name, allowed):
    err = error_for(**params)
    assert (err.name, err.allowed) == (name, allowed)
    assert f"parameter {name!r}" in str(err)


@pytest.mark.parametrize(
    "params,name",
    [
        ({"n_layers": 0}, "n_layers"),
        ({"n_ctx": -1}, "n_ctx"),
        ({"widths": [128, -64]}, "widths"),
        ({"compute_budgets": [0.0]}, "compute_budgets"),
        ({"family_layers": [0, 1]}, "family_layers"),
    ],
)
def test_zero_or_negative_sizes(params, name):
    err = error_for(**params)
    assert err.name == name and err.allowed == "numbers greater than zero"


def test_empty_lists():
    assert error_for(widths=[]).allowed == "a non-empty list"


def test_width_not_divisible_by_its_head_count():
    err = error_for(widths=[128, 200])
    assert err.name == "widths" and err.value == 200
    assert "max(2, d_model // 64)" in err.allowed and "200 gives 3 heads" in err.allowed
    assert "[198, 201]" in err.allowed


def test_unknown_parameter_lists_the_known_ones():
    err = error_for(widht=[128])
    assert err.name == "widht" and "widths" in err.allowed


def test_device():
    assert error_for(device="gpu").allowed.startswith("'auto', 'cpu'")
    import torch

    if not torch.cuda.is_available():
        assert "no CUDA device" in error_for(device="cuda").allowed


def test_runs_dir_that_is_a_file(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    err = error_for(runs_dir=str(blocker / "runs"))
    assert err.name == "runs_dir" and "is not a folder" in err.allowed


def test_yaml_style_numbers_are_accepted():
    # PyYAML reads 1e18 (no dot, no sign) as a string; float fields accept it.
    assert ScalingLawsConfig.from_params(compute_budgets=["1e18", 2e19]).compute_budgets == [1e18, 2e19]
    assert ScalingLawsConfig.from_params(n_layers=4.0).n_layers == 4


def test_hook_name_the_model_lacks():
    check_hook_names("hooks", ["blocks.5.hook_mlp_out", "blocks.6.hook_resid_pre"], n_layers=8)
    with pytest.raises(ParameterError) as info:
        check_hook_names("hooks", ["blocks.5.hook_mlp_out", "blocks.9.hook_resid_pre"], n_layers=8)
    assert info.value.name == "hooks" and info.value.value == "blocks.9.hook_resid_pre"
    assert "8-layer HookedTransformer" in info.value.allowed


def test_corpus_specs(tmp_path):
    (tmp_path / "a.txt").write_text("hello")
    assert parse_corpus("stdlib").source == "stdlib"
    assert parse_corpus(f"text:{tmp_path}/*.txt").location == f"{tmp_path}/*.txt"
    spec = parse_corpus("hf:roneneldan/TinyStories:train")
    assert (spec.source, spec.location, spec.config, spec.split) == ("hf", "roneneldan/TinyStories", "", "train")
    assert parse_corpus("hf:openwebtext:plain_text:train").config == "plain_text"
    with pytest.raises(ParameterError, match="no file or folder matches") as info:
        parse_corpus(f"text:{tmp_path}/missing/*.txt")
    assert info.value.name == "corpus"
    for bad in ("webtext", "hf:onlyname", "text:"):
        with pytest.raises(ParameterError, match="'stdlib', 'pysource\\[:<folder>\\]', 'text:<path or glob>'"):
            parse_corpus(bad)
    assert parse_corpus("pysource") == parse_corpus("pysource")
    assert parse_corpus(f"pysource:{tmp_path}").location == str(tmp_path)
    with pytest.raises(ParameterError, match="is not a folder"):
        parse_corpus(f"pysource:{tmp_path}/missing")


def test_from_namespace_reads_exactly_the_fields():
    namespace = {**ScalingLawsConfig.from_params().as_dict(), "unrelated": object()}
    assert ScalingLawsConfig.from_namespace(namespace).n_layers == 8
    del namespace["n_ctx"]
    with pytest.raises(NameError, match="does not define n_ctx"):
        ScalingLawsConfig.from_namespace(namespace)


@pytest.mark.parametrize("preset", ["smoke", "quick", "paper"])
def test_shipped_presets_are_valid_for_every_chapter(preset):
    resolved = load_preset(preset)
    assert set(resolved) == set(CONFIGS)
    for chapter, params in resolved.items():
        assert params["preset"] == preset
        CONFIGS[chapter].from_params(**params)


@pytest.fixture
def preset_folder(tmp_path, monkeypatch):
    folder = tmp_path / "presets"
    folder.mkdir()
    monkeypatch.setattr(paths, "presets_dir", lambda root=None: folder)
    return folder


def test_bad_preset_file_is_rejected_with_the_chapter_parameter(preset_folder):
    (preset_folder / "mine.yaml").write_text(yaml.safe_dump({"common": {"seed": 1}, "01_scaling_laws": {"n_layers": -2}}))
    with pytest.raises(ParameterError) as info:
        load_preset("mine")
    assert info.value.name == "n_layers"


def test_preset_with_unknown_notebook(preset_folder):
    (preset_folder / "mine.yaml").write_text(yaml.safe_dump({"01_scaling_law": {}}))
    with pytest.raises(ParameterError, match="01_scaling_laws"):
        load_preset("mine")


def test_preset_common_block_is_merged_under_the_chapter(preset_folder):
    (preset_folder / "mine.yaml").write_text(
        yaml.safe_dump({"common": {"seed": 3, "n_layers": 4}, "01_scaling_laws": {"n_layers": 2}, "04_saes": {"hooks": ["blocks.1.hook_mlp_out"]}})
    )
    resolved = load_preset("mine")
    params = resolved["01_scaling_laws"]
    assert (params["seed"], params["n_layers"], params["preset"]) == (3, 2, "mine")
    assert resolved["02_superposition"]["seed"] == 3 and "n_layers" not in resolved["02_superposition"]
    assert resolved["03_language_models"]["n_layers"] == 4


def test_sae_hooks_are_checked_against_chapter_3_of_the_same_preset(preset_folder):
    (preset_folder / "mine.yaml").write_text(yaml.safe_dump({"03_language_models": {"n_layers": 4}}))
    with pytest.raises(ParameterError, match="4-layer HookedTransformer") as info:
        load_preset("mine")
    assert info.value.name == "hooks"
    (preset_folder / "mine.yaml").write_text(
        yaml.safe_dump({"03_language_models": {"n_layers": 4, "n_ctx": 64}, "04_saes": {"hooks": ["blocks.2.hook_mlp_out"], "sae_context": 128}})
    )
    with pytest.raises(ParameterError, match="at most the models' context n_ctx = 64"):
        load_preset("mine")


def test_preset_common_key_that_no_chapter_has(preset_folder):
    (preset_folder / "mine.yaml").write_text(yaml.safe_dump({"common": {"sede": 3}}))
    with pytest.raises(ParameterError, match="common.sede"):
        load_preset("mine")


def test_project_root_is_found_from_anywhere(tmp_path):
    assert (paths.project_root(tmp_path) / "_toc.yml").exists()
    assert paths.project_root(Path(__file__).parent) == paths.project_root()


def test_universality_parameters_are_checked_against_chapter_4(preset_folder):
    (preset_folder / "mine.yaml").write_text(yaml.safe_dump({"04_saes": {"hooks": ["blocks.6.hook_mlp_out"]}}))
    assert UniversalityConfig.from_params(preset="mine").analysis_site == "blocks.6.hook_mlp_out"
    with pytest.raises(ParameterError, match="one of chapter 4's hooks in this preset: blocks.6.hook_mlp_out") as info:
        UniversalityConfig.from_params(preset="mine", site="blocks.6.hook_resid_pre")
    assert info.value.name == "site"
    for params, name in (
        ({"dead_latents": "drop"}, "dead_latents"),
        ({"match_threshold": 0.6}, "match_threshold"),
        ({"keep_fractions": [0.1, 0.5]}, "keep_fractions"),
        ({"keep_fractions": [0, 1.0]}, "keep_fractions"),
        ({"stat_windows": 0}, "stat_windows"),
        ({"sae_seeds": 0}, "sae_seeds"),
        ({"match_thresholds": [1.5]}, "match_thresholds"),
    ):
        with pytest.raises(ParameterError) as info:
            UniversalityConfig.from_params(preset="mine", **params)
        assert info.value.name == name
    assert UniversalityConfig.from_params(preset="mine", dead_latents="original").epsilon == 1e-4
    assert UniversalityConfig.from_params(preset="mine").epsilon == 0.0
