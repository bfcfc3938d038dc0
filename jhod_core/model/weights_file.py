"""The one weight format of a trained model: a plain ``.npz`` (float32 arrays named as in the ``state_dict``, a
``config`` JSON string and an ``info`` JSON string), read by both backends without pickle.

Training scripts keep writing torch ``.pt`` checkpoints (resume state, ``torch.load(weights_only=True)``);
``training/export_weights.py`` turns them into this format (``jhod_core.torch.weights.WeightsFile`` gives the
torch modules ``save`` / ``load`` for both). NumPy only: the Blender add-on reads weights with it.
"""

from __future__ import annotations

import json

import numpy as np

from ..io.atomic import atomic_write


def read_npz(path) -> tuple[dict, dict, dict]:
    """(config, arrays, info) of a weights ``.npz``."""
    with np.load(path, allow_pickle=False) as z:
        config = json.loads(str(z["config"]))
        info = json.loads(str(z["info"])) if "info" in z.files else {}
        arrays = {k: z[k] for k in z.files if k not in ("config", "info")}
    return config, arrays, info


def write_npz(path, config: dict, arrays: dict, info: dict | None = None) -> None:
    """Write atomically (a reader never sees half a file)."""
    atomic_write(path, write=lambda tmp: np.savez(
        tmp, config=np.array(json.dumps(config)), info=np.array(json.dumps(info or {})),
        **{k: np.asarray(v, dtype=np.float32) for k, v in arrays.items()}))
