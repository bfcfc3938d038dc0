"""Write a model folder that ``jhod sample`` and the Blender add-on load: both weight formats.

    python training/export_weights.py --autoencoder models/autoencoder/autoencoder.pt \
        --denoiser models/denoiser/ckpt.pt --out jhod_core/assets/model

``--denoiser`` is a ``denoiser.pt`` or a training ``ckpt.pt`` (its current step). Writes
``autoencoder.pt`` + ``denoiser.pt`` (torch, ``torch.load(weights_only=True)``) and
``autoencoder.npz`` + ``denoiser.npz`` (plain float32 arrays for ``jhod_core.sample_numpy``), plus
``weights.json`` (sizes, training steps, sources).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

from jhod_core.model.autoencoder import ObjectAutoencoder  # noqa: E402
from jhod_core.model.denoiser import DenoiserConfig, JHODDenoiser, export_numpy  # noqa: E402


def load_denoiser(path: Path) -> tuple[JHODDenoiser, int | None]:
    blob = torch.load(path, map_location="cpu", weights_only=True)
    model = JHODDenoiser(DenoiserConfig(**blob["config"]))
    model.load_state_dict(blob["state_dict"])
    return model.eval(), blob.get("step", blob.get("steps"))


def export(autoencoder_path: Path, denoiser_path: Path, out: Path) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    autoencoder = ObjectAutoencoder.load(autoencoder_path).eval()
    ae_blob = torch.load(autoencoder_path, map_location="cpu", weights_only=True)
    denoiser, step = load_denoiser(denoiser_path)
    autoencoder.save(out / "autoencoder.pt", {k: v for k, v in ae_blob.items() if k not in ("config", "state_dict")})
    autoencoder.export_numpy(out / "autoencoder.npz")
    denoiser.save(out / "denoiser.pt", {"steps": step, "source": denoiser_path.name})
    export_numpy(denoiser, out / "denoiser.npz")
    info = {"autoencoder_steps": ae_blob.get("steps"), "denoiser_steps": step,
            "denoiser_parameters": sum(p.numel() for p in denoiser.parameters()),
            "autoencoder_parameters": sum(p.numel() for p in autoencoder.parameters()),
            "files_mb": {p.name: round(p.stat().st_size / 2**20, 2)
                         for p in sorted([*out.glob("*.pt"), *out.glob("*.npz")])}}
    (out / "weights.json").write_text(json.dumps(info, indent=1) + "\n")
    return info


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--autoencoder", type=Path, required=True)
    p.add_argument("--denoiser", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True)
    args = p.parse_args(argv)
    print(json.dumps(export(args.autoencoder, args.denoiser, args.out)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
