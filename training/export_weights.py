"""Write a model folder that ``jhod sample`` and the Blender add-on load: one ``.npz`` per model.

    python training/export_weights.py --autoencoder models/autoencoder/autoencoder.pt \
        --denoiser models/denoiser/ckpt.pt --out jhod_core/assets/model

``--autoencoder`` / ``--denoiser`` are the training scripts' ``.pt`` files (``autoencoder.pt``; ``denoiser.pt`` or a
training ``ckpt.pt`` at its current step) or already exported ``.npz``. Writes ``autoencoder.npz`` + ``denoiser.npz``
(``jhod_core.model.weights_file``: plain float32 arrays + config, read by the NumPy and the torch backend) and
``weights.json`` (sizes, training steps, sources); ``--critic`` copies a fitted ``critic.npz`` (``training/critic``)
beside them, which then chooses among the pipeline's candidates.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

from jhod_core.torch.autoencoder import ObjectAutoencoder  # noqa: E402
from jhod_core.torch.denoiser import JHODDenoiser  # noqa: E402
from jhod_core.model.weights_file import read_npz  # noqa: E402


def training_info(path: Path) -> dict:
    """The plain entries saved beside the weights (steps, splits, source), of a .pt or an .npz."""
    if path.suffix == ".npz":
        return read_npz(path)[2]
    blob = torch.load(path, map_location="cpu", weights_only=True)
    info = {k: v for k, v in blob.items() if isinstance(v, (int, float, str))}
    if "step" in blob:  # a training ckpt.pt: its current step
        info["steps"] = blob["step"]
    return info


def export(autoencoder_path: Path, denoiser_path: Path, out: Path, critic_path: Path | None = None) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    if critic_path is not None:  # the candidate choice's critic travels with the model (jhod_core.critic)
        from jhod_core.critic import FILE, Critic

        Critic.load(critic_path).save(out / FILE)
    autoencoder = ObjectAutoencoder.load(autoencoder_path).eval()
    denoiser = JHODDenoiser.load(denoiser_path).eval()
    ae_info, de_info = training_info(autoencoder_path), training_info(denoiser_path)
    de_info.setdefault("source", denoiser_path.name)
    autoencoder.save(out / "autoencoder.npz", ae_info)
    denoiser.save(out / "denoiser.npz", de_info)
    info = {"autoencoder_steps": ae_info.get("steps"), "denoiser_steps": de_info.get("steps"),
            "denoiser_parameters": sum(p.numel() for p in denoiser.parameters()),
            "autoencoder_parameters": sum(p.numel() for p in autoencoder.parameters()),
            "files_mb": {p.name: round(p.stat().st_size / 2**20, 2)
                         for p in sorted(out.glob("*.npz"))}}
    (out / "weights.json").write_text(json.dumps(info, indent=1) + "\n")
    return info


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--autoencoder", type=Path, required=True)
    p.add_argument("--denoiser", type=Path, required=True)
    p.add_argument("--critic", type=Path, default=None, help="critic.npz of training/critic/train.py (optional)")
    p.add_argument("--out", type=Path, required=True)
    args = p.parse_args(argv)
    print(json.dumps(export(args.autoencoder, args.denoiser, args.out, args.critic)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
