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

from helpers.chapters.configs import CONFIGS


def module(chapter: str) -> ModuleType:
    """The module ``ch<chapter>`` holding ``chapter``'s computation (imported on first use: chapters
    need different stacks). ``chapter`` is a key of :data:`~helpers.chapters.configs.CONFIGS`."""
    if chapter not in CONFIGS:
        raise KeyError(f"no chapter {chapter!r}; the chapters are {', '.join(CONFIGS)}")
    return importlib.import_module(f"{__name__}.ch{chapter}")
