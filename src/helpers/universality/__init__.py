"""Comparing SAEs: sparse latent activations on disk, exact streaming statistics and maximum
correlations, fits and intervals of importance against universality, one-to-one matching."""
