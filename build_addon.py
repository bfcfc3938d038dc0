"""Build the installable Blender extension: dist/jhod_grasp-<version>.zip.

The zip holds the add-on (jhod_blender/*), blender_manifest.toml at its root, and the torch-free
parts of jhod_core the add-on imports relatively (hand model files and NumPy forward, the NumPy
model, sampler and refinement, errors, assets and the shipped weights in .npz form). Run: python build_addon.py
"""

from __future__ import annotations

import sys
import tomllib
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent
# torch-free modules of jhod_core that run inside Blender
CORE_FILES = ["__init__.py", "errors.py", "hand/__init__.py", "hand/model_file.py", "hand/numpy_forward.py",
              "hand/topology.py", "hand/joint_limits.py", "hand/poses.py", "hand/regions.py",
              "geometry/__init__.py", "geometry/sampling.py", "refine.py", "sample_numpy.py",
              "model/__init__.py", "model/spec.py", "model/numpy_inference.py",
              "assets/OPENHAND_RIGHT.npz", "assets/OPENHAND_LICENSE.md"]
# the shipped model in its torch-free format (absent before the first release of weights)
MODEL_FILES = ["assets/model/autoencoder.npz", "assets/model/denoiser.npz", "assets/model/MODEL_CARD.md"]


def build(out_dir: Path = ROOT / "dist") -> Path:
    if not (ROOT / "jhod_blender" / "__init__.py").exists():
        raise SystemExit("error: jhod_blender/__init__.py does not exist yet: the add-on is not implemented, "
                         "so there is nothing installable to build")
    manifest = tomllib.loads((ROOT / "blender_manifest.toml").read_text())
    out_dir.mkdir(parents=True, exist_ok=True)
    out = out_dir / f"{manifest['id']}-{manifest['version']}.zip"
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.write(ROOT / "blender_manifest.toml", "blender_manifest.toml")
        zf.write(ROOT / "LICENSE", "LICENSE")
        for path in sorted((ROOT / "jhod_blender").rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                zf.write(path, path.relative_to(ROOT / "jhod_blender").as_posix())
        for name in CORE_FILES:
            zf.write(ROOT / "jhod_core" / name, f"jhod_core/{name}")
        for name in MODEL_FILES:
            if (ROOT / "jhod_core" / name).is_file():
                zf.write(ROOT / "jhod_core" / name, f"jhod_core/{name}")
    return out


if __name__ == "__main__":
    print(build())
    sys.exit(0)
