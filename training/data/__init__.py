"""Synthetic data engine: the object corpus (``procedural``, ``corpus``) and the grasp dataset (``grasps``).

Build the object corpus with ``python -m training.data.corpus --out data/objects`` (docs/object_corpus.md).
"""
