"""Shared code for the book: every notebook is narrative plus calls into this package.

Modules (one concern each):

- ``config``      typed, validated parameters for each chapter and the preset files
- ``paths``       where the project, the presets and the run folders are
- ``atomic``      write results atomically (temporary file, then rename)
- ``provenance``  what produced a chapter: preset, parameters, versions, device, wall time
- ``scaling``     scaling laws (Kaplan, Chinchilla, Epoch), parameter counts, power-law fits
- ``models``      the transformer family of the talk as TransformerLens configurations
- ``reference``   the original run's published numbers, as data
- ``plotting``    the book's figure style
- ``runner``      execute the notebooks of a preset with papermill, then build the book
"""

__version__ = "0.1.0"
