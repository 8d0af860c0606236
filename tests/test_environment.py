"""The two ways to install (pip via pyproject, conda via environment.yml) pin the same versions."""

import re
import tomllib

import yaml

from helpers.core import paths

ROOT = paths.project_root()


def pins(requirements: list[str]) -> dict[str, str]:
    found = {}
    for line in requirements:
        match = re.fullmatch(r"([A-Za-z0-9_.\-]+)==([^\s;]+)", line.strip())
        if match:
            found[match[1].lower()] = match[2]
    return found


def test_environment_yml_pins_what_pyproject_pins():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert pins(project["dependencies"]) == pins(pip_section)
    assert len(pins(project["dependencies"])) == len(project["dependencies"])  # every dependency pinned
    assert "python=3.11" in env["dependencies"]


def test_makefile_installs_the_pinned_torch_before_the_project():
    makefile = (ROOT / "Makefile").read_text()
    torch_install = makefile.index('pip install --quiet "$(TORCH)"')
    project_install = makefile.index("pip install --quiet -e .")
    assert torch_install < project_install
    assert 'grep -o \'"torch==[^"]*"\' pyproject.toml' in makefile
    for target in ("book", "test", "lab"):
        assert re.search(rf"^{target}: \$\(STAMP\)$", makefile, re.M), target
