"""Public hand-object datasets -> our grasp shards and object corpus (``jhod convert --from NAME SRC --out DIR``).

Each adapter reads its dataset's published layout (the files as distributed; nothing is downloaded) and yields
``common.SourceGrasp`` records: MANO parameters in the dataset's own conventions plus the grasped object's mesh and
pose. ``common.convert`` turns them into right-hand grasps in the object's bounding-box-centred frame (metres),
mirrors left hands (and their objects), and writes ``DIR/grasps/shards/*.npz`` and ``DIR/objects`` (a corpus:
meshes, manifest with source and licence, points) atomically: bad input writes nothing.
"""

from __future__ import annotations

ADAPTERS = {
    "dexycb": "training.datasets.dexycb",
    "ho3d": "training.datasets.ho3d",
    "grab": "training.datasets.grab",
    "oakink": "training.datasets.oakink",
    "arctic": "training.datasets.arctic",
}


def adapter(name: str):
    """The adapter module of a dataset name (ValueError naming the known ones otherwise)."""
    import importlib

    if name not in ADAPTERS:
        raise ValueError(f"unknown dataset '{name}'; known: {', '.join(sorted(ADAPTERS))}")
    return importlib.import_module(ADAPTERS[name])
