"""The one weight format of a trained model: a plain ``.npz`` (float32 arrays named as in the ``state_dict``, a
``config`` JSON string and an ``info`` JSON string), read by both backends without pickle.

Training scripts keep writing torch ``.pt`` checkpoints (resume state, ``torch.load(weights_only=True)``);
``training/export_weights.py`` turns them into this format. ``WeightsFile`` gives a torch module ``save`` /
``load`` for both suffixes.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict

import numpy as np


def read_npz(path) -> tuple[dict, dict, dict]:
    """(config, arrays, info) of a weights ``.npz``."""
    with np.load(path, allow_pickle=False) as z:
        config = json.loads(str(z["config"]))
        info = json.loads(str(z["info"])) if "info" in z.files else {}
        arrays = {k: z[k] for k in z.files if k not in ("config", "info")}
    return config, arrays, info


def write_npz(path, config: dict, arrays: dict, info: dict | None = None) -> None:
    """Write atomically (a reader never sees half a file)."""
    tmp = f"{path}.tmp-{os.getpid()}.npz"
    try:
        np.savez(tmp, config=np.array(json.dumps(config)), info=np.array(json.dumps(info or {})),
                 **{k: np.asarray(v, dtype=np.float32) for k, v in arrays.items()})
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


class WeightsFile:
    """``save`` / ``load`` for a torch module with a dataclass ``config`` (class attribute ``config_class``)."""

    config_class = None

    def save(self, path, extra: dict | None = None) -> None:
        """``.npz``: the shipped format (``extra`` goes into ``info``, JSON); anything else: a torch file with the
        config, the state dict and ``extra``, loadable with ``weights_only=True``."""
        if str(path).endswith(".npz"):
            arrays = {k: v.detach().cpu().numpy() for k, v in self.state_dict().items()}
            write_npz(path, asdict(self.config), arrays, extra)
            return
        import torch

        torch.save({"config": asdict(self.config), "state_dict": self.state_dict(), **(extra or {})}, path)

    @classmethod
    def load(cls, path, map_location="cpu"):
        import torch

        if str(path).endswith(".npz"):
            config, arrays, _ = read_npz(path)
            state = {k: torch.from_numpy(np.array(v)) for k, v in arrays.items()}
        else:
            blob = torch.load(path, map_location=map_location, weights_only=True)
            config, state = blob["config"], blob["state_dict"]
        model = cls(cls.config_class(**config))
        model.load_state_dict(state)
        return model.to(map_location)
