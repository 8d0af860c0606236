"""The house's layout: every module imports only from its own layer or the layers below it, the
notebooks reach the machinery only through the chapter layer, and each notebook's MyST Markdown
twin (what is reviewed and diffed) holds the same cells as the notebook that is executed."""

from __future__ import annotations

import ast
from pathlib import Path

import jupytext
import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "helpers"
#: The layers, bottom first; a module may import from its own layer and any layer before it.
LAYERS = ("core", "theory", "lm", "sae", "universality", "chapters", "publish", "pipeline", "runner")
#: What a notebook may import: the chapter layer, the presentation layer, and the two pure leaves
#: (published reference numbers in core, closed-form curves in theory). Never lm, sae or universality.
NOTEBOOK_LAYERS = {"chapters", "publish", "core", "theory"}
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def layer_of(module: str) -> str:
    """``helpers.lm.gpt`` -> ``lm``; ``helpers.pipeline`` -> ``pipeline``."""
    parts = module.split(".")
    assert parts[0] == "helpers" and len(parts) > 1, module
    return parts[1]


def helpers_imports(source: str, package: str = "") -> set[str]:
    """The ``helpers`` modules a piece of Python imports (relative imports resolved against ``package``)."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.startswith("helpers.")}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
            if base == "helpers":  # `from helpers import chapters`: the names are the modules
                found |= {f"helpers.{alias.name}" for alias in node.names}
            elif base.startswith("helpers."):
                found.add(base)
    return found


def package_modules() -> dict[str, Path]:
    modules = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return modules


def test_layers_cover_the_package():
    assert {layer_of(m) for m in package_modules() if m != "helpers"} == set(LAYERS)


@pytest.mark.parametrize("module", sorted(m for m in package_modules() if m != "helpers"))
def test_a_module_imports_only_its_own_layer_or_lower(module):
    path = package_modules()[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    rank = LAYERS.index(layer_of(module))
    upward = {imported for imported in helpers_imports(path.read_text(), package) if LAYERS.index(layer_of(imported)) > rank}
    assert not upward, f"{module} ({LAYERS[rank]}) imports from a higher layer: {sorted(upward)}"


def test_the_layer_check_sees_an_upward_import():
    """The check above would catch what it claims to: a core module importing the chapter layer."""
    imported = helpers_imports("from helpers.chapters import configs\nfrom ..publish import plotting\n", "helpers.core")
    assert imported == {"helpers.chapters", "helpers.publish"}
    assert max(LAYERS.index(layer_of(m)) for m in imported) > LAYERS.index("core")


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_a_notebook_imports_the_chapter_and_presentation_layers(notebook):
    code = "\n".join(cell.source for cell in nbformat.read(notebook, as_version=4).cells if cell.cell_type == "code")
    layers = {layer_of(module) for module in helpers_imports(code)}
    assert layers, "a chapter calls into helpers"
    assert layers <= NOTEBOOK_LAYERS, f"{notebook.name} imports {sorted(layers - NOTEBOOK_LAYERS)}"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_a_notebook_and_its_markdown_twin_hold_the_same_cells(notebook):
    """Run `make sync` after editing either file."""
    twin = notebook.with_suffix(".md")
    assert twin.exists(), f"{twin.name} is missing: make sync"
    executed, reviewed = nbformat.read(notebook, as_version=4), jupytext.read(twin)
    assert executed.metadata["jupytext"]["formats"] == "ipynb,md:myst"

    def cells(nb) -> list[tuple]:
        return [(c.cell_type, c.source, sorted(c.metadata.get("tags", [])), c.metadata.get("mystnb")) for c in nb.cells]

    assert cells(executed) == cells(reviewed), f"{notebook.name} and {twin.name} differ: make sync"
