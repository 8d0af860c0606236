"""Shared code for the book: every notebook is narrative plus one call into this package.

Layers, lowest first; a module imports only from its own layer or lower ones:

- ``core``          parameters and their errors, paths, atomic writes, cache keys, provenance, results
- ``theory``        scaling laws, the superposition arithmetic, toy models
- ``lm``            corpus, tokens, the model family, the training module and loop, data parallelism
- ``sae``           SAELens training and evaluation
- ``universality``  latent activations, streaming statistics and max correlations, fits, matching
- ``chapters``      the chapters' configs and presets, and one ``compute(cfg, run)`` per chapter
- ``publish``       the book: notebook cells, prose, figures, widgets, bundles and the ladder, PDF, web
- ``pipeline`` and ``runner``: the two front ends (headless jobs; papermill and jupyter-book)
"""

__version__ = "0.1.0"
