"""Closed-form theory: scaling laws, the superposition arithmetic at fixed N, toy models of superposition."""
