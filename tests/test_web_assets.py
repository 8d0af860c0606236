"""The book's own copies of MathJax, RequireJS and the widget manager, and the script dedupe."""

import json

import yaml
from sphinx.builders.html._assets import _JavaScript

from helpers.core import paths
from helpers.publish import web_assets
from helpers.publish.sphinx_fixes import _keep_each_script_once

ROOT = paths.project_root()


def test_config_points_at_the_vendored_files(tmp_path):
    sphinx = yaml.safe_load((ROOT / "_config.yml").read_text())["sphinx"]["config"]
    assert sphinx["html_static_path"] == [web_assets.STATIC_FOLDER]
    assert sphinx["mathjax_path"] == web_assets.MATHJAX
    assert list(sphinx["nb_ipywidgets_js"]) == [web_assets.WIDGETS_SETUP, web_assets.REQUIRE, web_assets.WIDGETS]
    web_assets.copy_into(tmp_path, ROOT, log=lambda line: None)
    for path in (web_assets.MATHJAX, web_assets.REQUIRE, web_assets.WIDGETS, web_assets.WIDGETS_SETUP):
        assert (tmp_path / path).stat().st_size > 0, path
    assert not list(tmp_path.rglob("*.map"))
    assert not any("://" in value for value in (sphinx["mathjax_path"], *sphinx["nb_ipywidgets_js"]))


def test_pinned_widget_manager_is_the_one_ipywidgets_expects():
    from ipywidgets._version import __html_manager_version__  # e.g. "^1.0.1"

    pinned = json.loads((ROOT / "web" / "package.json").read_text())["dependencies"]
    lock = json.loads((ROOT / "web" / "package-lock.json").read_text())["packages"]
    version = pinned["@jupyter-widgets/html-manager"]
    assert lock["node_modules/@jupyter-widgets/html-manager"]["version"] == version
    assert version.split(".")[0] == __html_manager_version__.lstrip("^~").split(".")[0]
    assert all(not v.startswith(("^", "~")) for v in pinned.values())  # exact pins
    assert pinned["mathjax"].startswith("3.")


def test_each_inline_script_is_kept_once_in_order():
    first = _JavaScript(None, body="const X = 1", priority=500)
    again = _JavaScript("", body="const X = 1", priority=500)  # the same script registered a second time
    other = _JavaScript("_static/a.js", priority=500)
    context = {"script_files": [first, other, again]}
    _keep_each_script_once(None, "page", "page.html", context, None)
    assert context["script_files"] == [first, other]
