"""Turning results into the book: the notebook side of a chapter, prose, figures, widgets, the ladder
of results bundles, the PDF's tables, the Sphinx extension, web assets and benchmarks."""
