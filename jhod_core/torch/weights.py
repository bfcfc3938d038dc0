"""``save`` / ``load`` of the torch modules: the shipped ``.npz`` format (``jhod_core.model.weights_file``) or a
torch ``.pt`` file (training checkpoints, ``torch.load(weights_only=True)``)."""

from __future__ import annotations

from dataclasses import asdict

import numpy as np
import torch

from ..model.weights_file import read_npz, write_npz


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
        torch.save({"config": asdict(self.config), "state_dict": self.state_dict(), **(extra or {})}, path)

    @classmethod
    def load(cls, path, map_location="cpu"):
        if str(path).endswith(".npz"):
            config, arrays, _ = read_npz(path)
            state = {k: torch.from_numpy(np.array(v)) for k, v in arrays.items()}
        else:
            blob = torch.load(path, map_location=map_location, weights_only=True)
            config, state = blob["config"], blob["state_dict"]
        model = cls(cls.config_class(**config))
        model.load_state_dict(state)
        return model.to(map_location)
