"""Sparse autoencoders: SAELens training, cached by configuration, and evaluation (reconstruction and spliced loss)."""
