"""Evaluation suite: grasp quality, diversity and speed of JHOD and its baselines on held-out objects."""
