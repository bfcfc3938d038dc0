"""`HandModel`: the batched, differentiable torch hand used everywhere (through smplx's MANO layer)."""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass

import numpy as np
import torch

from ..hand.model_file import HandData, load_hand_data
from ..hand.topology import KEYPOINT_ORDER


@dataclass
class HandOutput:
    vertices: torch.Tensor   # (B, V, 3) metres
    joints: torch.Tensor     # (B, 16, 3) MANO joint order
    keypoints: torch.Tensor  # (B, 21, 3) wrist, thumb1-tip, index1-tip, middle, ring, pinky


class HandModel(torch.nn.Module):
    """A MANO-format hand: the shipped open hand by default, or a real MANO file.

    `model_path`: a MANO_RIGHT/LEFT .pkl/.npz file or its folder; None uses $JHOD_MANO_DIR, then the
    open hand. `flat_hand_mean=True`: zero hand_pose is the flat hand (set False for data stored
    relative to MANO's mean pose). Poses are 45 axis-angle values (no PCA).
    """

    def __init__(self, model_path: str | os.PathLike | None = None, side: str = "right",
                 flat_hand_mean: bool = True, num_betas: int = 10, dtype: torch.dtype = torch.float32):
        super().__init__()
        import smplx
        from smplx.utils import Struct

        self.data: HandData = load_hand_data(model_path, side)
        self.side = side
        self.flat_hand_mean = flat_hand_mean
        self.num_betas = min(num_betas, self.data.shapedirs.shape[2])
        with warnings.catch_warnings(), _quiet_stdout():
            warnings.simplefilter("ignore")
            self.layer = smplx.MANO(
                model_path=os.path.dirname(self.data.source), data_struct=Struct(**self.data.as_mano_arrays()),
                is_rhand=side == "right", use_pca=False, flat_hand_mean=flat_hand_mean,
                num_betas=self.num_betas, dtype=dtype)
        self.register_buffer("tip_vertex_ids", torch.tensor(self.data.tip_vertex_ids), persistent=False)
        self.register_buffer("closed_faces", torch.tensor(self.data.closed_faces), persistent=False)
        self.register_buffer("keypoint_order", torch.as_tensor(KEYPOINT_ORDER), persistent=False)

    @property
    def faces(self) -> np.ndarray:
        """Watertight triangle faces (F, 3) for meshes, metrics and export."""
        return self.data.closed_faces

    def forward(self, global_orient=None, hand_pose=None, transl=None, betas=None) -> HandOutput:
        given = [t for t in (global_orient, hand_pose, transl, betas) if t is not None]
        batch = given[0].shape[0] if given else 1
        ref = self.layer.v_template

        def arg(t, width):
            return torch.zeros(batch, width, dtype=ref.dtype, device=ref.device) if t is None else t

        out = self.layer(global_orient=arg(global_orient, 3), hand_pose=arg(hand_pose, 45),
                         transl=arg(transl, 3), betas=arg(betas, self.num_betas)[:, : self.num_betas])
        tips = out.vertices[:, self.tip_vertex_ids]
        keypoints = torch.cat([out.joints, tips], dim=1)[:, self.keypoint_order]
        return HandOutput(vertices=out.vertices, joints=out.joints, keypoints=keypoints)


class _quiet_stdout:
    """smplx prints a shape-space warning for every MANO file with 10 betas; hide it."""

    def __enter__(self):
        import contextlib
        import io

        self._ctx = contextlib.redirect_stdout(io.StringIO())
        self._ctx.__enter__()

    def __exit__(self, *exc):
        return self._ctx.__exit__(*exc)
