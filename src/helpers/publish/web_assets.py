"""The browser libraries the built book serves itself: MathJax, RequireJS and the Jupyter widget
manager, pinned in ``web/package-lock.json``, installed from the npm registry at build time and
copied into the book's ``_static/vendor/``, so that no page requests an outside host.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from helpers.core import paths

#: Where each library goes under ``_static/vendor/`` (source relative to ``web/node_modules``).
VENDOR = {
    "mathjax": "mathjax/es5",
    "require.js": "requirejs/require.js",
    "html-manager/dist": "@jupyter-widgets/html-manager/dist",
}

#: The staged book's extra static folder (``html_static_path``); Sphinx copies it into ``_static``.
#: Not ``_static`` itself, which Jupyter Book would scan to add every .js file to every page.
STATIC_FOLDER = "_web"

#: Our own files, from ``web/``: the widget manager's glue (points it at its vendored assets and gives
#: it the MathJax 2 call it expects on top of MathJax 3) and the book's style sheet.
OWN = ["widgets-setup.js", "book.css"]

#: Paths, relative to ``_static``, that ``_config.yml`` points Sphinx and myst-nb at.
MATHJAX = "vendor/mathjax/tex-mml-chtml.js"
REQUIRE = "vendor/require.js"
WIDGETS = "vendor/html-manager/dist/embed-amd.js"
WIDGETS_SETUP = "vendor/widgets-setup.js"


def web_dir(root: Path | None = None) -> Path:
    return (root or paths.project_root()) / "web"


def install(root: Path | None = None, log=print) -> Path:
    """``npm ci`` in ``web/`` unless ``node_modules`` already matches the lock file; returns it."""
    folder = web_dir(root)
    modules = folder / "node_modules"
    lock = folder / "package-lock.json"
    installed = modules / ".package-lock.json"
    if installed.exists() and installed.stat().st_mtime >= lock.stat().st_mtime:
        return modules
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError(
            "npm is needed to fetch the book's MathJax, RequireJS and widget manager (web/package-lock.json); install Node.js with npm and run again"
        )
    log(f"installing the book's browser libraries: npm ci in {folder}")
    subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--ignore-scripts", "--loglevel=error"], cwd=folder, check=True)
    installed.touch()
    return modules


def copy_into(static: Path, root: Path | None = None, log=print) -> None:
    """Copy the pinned libraries into ``static/vendor/`` (source maps left out)."""
    modules = install(root, log)
    vendor = static / "vendor"
    for name, source in VENDOR.items():
        source_path = modules / source
        if source_path.is_dir():
            shutil.copytree(source_path, vendor / name, ignore=shutil.ignore_patterns("*.map", "*.d.ts"), dirs_exist_ok=True)
        else:
            vendor.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source_path, vendor / name)
    for name in OWN:
        shutil.copy2(web_dir(root) / name, vendor / name)
