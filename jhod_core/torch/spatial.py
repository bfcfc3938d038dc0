"""Torch version of the JHOD distance field, differentiable with respect to the joints.

Same definition and layout as ``spatial.joint_distance_field`` (the reference); the neighbour
selection (top-k) is piecewise constant, so gradients flow through the vectors ``point - joint``.
"""

from __future__ import annotations

import torch

from jhod_core.geometry.spatial import DISTANCE_FIELD_K


def joint_distance_field_torch(
    joints: torch.Tensor, object_points: torch.Tensor, k: int = DISTANCE_FIELD_K
) -> torch.Tensor:
    """``joints`` (..., J, 3), ``object_points`` (..., N, 3) broadcastable -> (..., J, 3k)."""
    lead = torch.broadcast_shapes(joints.shape[:-2], object_points.shape[:-2])
    joints = joints.expand(*lead, *joints.shape[-2:])
    object_points = object_points.expand(*lead, *object_points.shape[-2:])
    # exact distances (the matrix-product shortcut can reorder near-ties vs. the NumPy reference)
    dist = torch.cdist(joints, object_points, compute_mode="donot_use_mm_for_euclid_dist")
    idx = dist.topk(k, dim=-1, largest=False, sorted=True).indices
    # gather the neighbours: (..., J, k, 3)
    flat_idx = idx.reshape(*lead, -1, 1).expand(*lead, idx.shape[-2] * k, 3)
    neighbours = torch.gather(object_points, -2, flat_idx).reshape(*idx.shape, 3)
    vectors = neighbours - joints.unsqueeze(-2)
    return vectors.reshape(*idx.shape[:-1], 3 * k)
