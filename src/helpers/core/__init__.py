"""The ground floor: parameters and their errors, paths, atomic writes, hardware, cache keys, the
results files (written with their provenance, and read back) and the original run's numbers."""
