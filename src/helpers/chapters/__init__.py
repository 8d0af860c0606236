"""One module per chapter: the computation that both front ends call.

``compute(cfg, run)`` takes the chapter's validated config and a :class:`~helpers.core.provenance.ChapterRun`,
does every piece of work the chapter's numbers need, writes every results file of
``runs/<preset>/results/<chapter>/`` through ``run`` and returns what the notebook presents. The
notebook adds prose, figures and tables; ``python -m helpers.pipeline run`` adds nothing and writes the
same files. The rules that turn a chapter's measurements into verdicts live here too, so they are
unit-tested rather than only run by a notebook.
"""

from __future__ import annotations

import importlib
from types import ModuleType

MODULES = {
    "01_scaling_laws": "ch01_scaling_laws",
    "02_superposition": "ch02_superposition",
    "03_language_models": "ch03_language_models",
    "04_saes": "ch04_saes",
    "05_universality": "ch05_universality",
    "06_training_dynamics": "ch06_training_dynamics",
    "07_equal_n": "ch07_equal_n",
    "08_discussion": "ch08_discussion",
}


def module(chapter: str) -> ModuleType:
    """The module holding ``chapter``'s computation (imported on first use: chapters need different stacks)."""
    return importlib.import_module(f"{__name__}.{MODULES[chapter]}")
