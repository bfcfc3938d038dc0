"""Baselines trained on the same data as JHOD, for the evaluation suite."""
