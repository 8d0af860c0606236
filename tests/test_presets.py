"""Presets are data that say only how a run departs from the chapters' defaults (the talk's
settings), and each notebook's parameters cell holds the quick book's values, so a notebook run by
hand in JupyterLab is the default book's chapter."""

from __future__ import annotations

import nbformat
import pytest

from helpers.chapters.configs import CONFIGS, preset_block, read_preset
from helpers.core import paths
from helpers.core.parameters import ParameterError

PRESETS = sorted(p.stem for p in paths.presets_dir().glob("*.yaml"))


def changes_the_config(config_cls, params: dict, without: dict) -> bool:
    """Whether leaving a key out changes the validated config (or makes it invalid)."""
    try:
        return config_cls.from_params(**params) != config_cls.from_params(**without)
    except ParameterError:
        return True


@pytest.mark.parametrize("preset", PRESETS)
def test_every_preset_key_departs_from_the_default(preset):
    raw = read_preset(preset)
    for block, keys in raw.items():
        chapters = CONFIGS if block == "common" else {block: CONFIGS[block]}
        for key in keys:
            effects = []
            for chapter, config_cls in chapters.items():
                params = preset_block(preset, chapter)
                if key not in params:
                    continue
                without = {k: v for k, v in params.items() if k != key}
                effects.append(changes_the_config(config_cls, params, without))
            assert any(effects), f"presets/{preset}.yaml: {block}.{key} repeats the default; leave it out"


@pytest.mark.parametrize("chapter", list(CONFIGS))
def test_a_notebooks_parameters_cell_is_the_quick_book(chapter):
    notebook = nbformat.read(paths.project_root() / "notebooks" / f"{chapter}.ipynb", as_version=4)
    cells = [c for c in notebook.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(cells) == 1, "one parameters cell"
    namespace: dict = {}
    exec(cells[0].source, namespace)
    in_cell = CONFIGS[chapter].from_namespace(namespace)
    assert in_cell == CONFIGS[chapter].from_params(**preset_block("quick", chapter))
