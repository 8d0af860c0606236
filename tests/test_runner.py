"""The runner's pieces that need no notebook execution."""

import yaml

from helpers import runner
from helpers.core import paths
from helpers.publish import toc


def test_chapters_follow_the_table_of_contents():
    listed = (paths.project_root() / "_toc.yml").read_text()
    chapters = toc.chapters_in_book_order()
    assert chapters == sorted(chapters, key=listed.index)
    assert chapters[:3] == ["01_scaling_laws", "02_superposition", "03_language_models"]


def test_launch_buttons_only_with_a_repository_address():
    config = yaml.safe_load((paths.project_root() / "_config.yml").read_text())
    offline = runner.stage_config(config, None)
    assert "binderhub_url" not in offline["launch_buttons"] and "repository" not in offline
    published = runner.stage_config(config, "https://github.com/someone/book")
    assert published["repository"]["url"] == "https://github.com/someone/book"
    assert published["launch_buttons"] == {"notebook_interface": "jupyterlab", "binderhub_url": runner.BINDERHUB}
    assert config["launch_buttons"] == {"notebook_interface": "jupyterlab"}  # the source is not modified
    assert offline["parse"]["myst_substitutions"]["talk_widths"] == "128, 256, 512 and 768"
    assert offline["parse"]["myst_substitutions"]["talk_sae_layer"] == "6th"
    assert "myst_substitutions" not in config["parse"]


def test_cache_key_changes_with_parameters_and_source(tmp_path):
    source = paths.project_root() / "notebooks" / "01_scaling_laws.ipynb"
    key = runner.cache_key(source, {"preset": "smoke"})
    assert key == runner.cache_key(source, {"preset": "smoke"})
    assert key != runner.cache_key(source, {"preset": "quick"})
    copy = tmp_path / "nb.ipynb"
    copy.write_bytes(source.read_bytes() + b" ")
    assert key != runner.cache_key(copy, {"preset": "smoke"})
