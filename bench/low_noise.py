"""How well a denoiser predicts the clean hand from a noised training grasp, by noise level.

    python bench/low_noise.py models/denoiser_v11/denoiser.pt [more .pt files] [--num 192] [--out FILE]

For ``--num`` random training grasps of ``data/grasps_everyday`` (their objects centred as at sampling time, no
rotation), each noise level t: the hand part is noised as in training (t_O = 0, the object clean), and the network's
x0 prediction is posed; reported are the mean distance of its 21 keypoints to the grasp's (cm), the same for the
input itself (x_t / sqrt(abar), "input"), and the mean distance of the five fingertips to the object's nearest point
(the grasp's own: "grasp"). A model with surface features is run with and without them. A network that predicts the
clean hand well is never worse than its own input.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

LEVELS = (10, 40, 100, 200, 400, 700)


def main(argv=None) -> int:
    from jhod_core.hand import load_hand_data, numpy_forward
    from jhod_core.hand.model_file import OPEN_HAND_FILE
    from jhod_core.hand.rigid import rest_wrist, transform_params
    from jhod_core.model import hand_state, spec, surface_features
    from jhod_core.torch.autoencoder import ObjectAutoencoder
    from jhod_core.torch.denoiser import JHODDenoiser
    from training.data.corpus import load_object_points, split_ids
    from training.data.grasps import GraspDataset, load_grasps

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("weights", nargs="+", help="denoiser .pt files (training outputs)")
    p.add_argument("--autoencoder", default="models/autoencoder_wip/autoencoder.pt")
    p.add_argument("--num", type=int, default=192)
    p.add_argument("--out", default=None)
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    started = time.time()

    grasps = load_grasps(["data/grasps_everyday"])
    ids, points, _ = load_object_points(["data/objects_everyday"])
    ds = GraspDataset(grasps, ids, points, set(split_ids(["data/objects_everyday"], "train")))
    idx = np.random.default_rng(0).choice(len(ds), args.num, replace=False)
    clouds = ds.points[ds.object_index[idx]].astype(np.float64)
    offset = (clouds.min(axis=1) + clouds.max(axis=1)) / 2
    clouds -= offset[:, None]
    data = load_hand_data(OPEN_HAND_FILE)
    go, tr = transform_params(ds.params[idx, :3], ds.params[idx, 48:], np.broadcast_to(np.eye(3), (args.num, 3, 3)),
                              -offset, rest_wrist(data))
    params = np.concatenate([go, ds.params[idx, 3:48], tr], axis=1)
    truth = numpy_forward(data, global_orient=params[:, :3], hand_pose=params[:, 3:48], transl=params[:, 48:])[2]
    autoencoder = ObjectAutoencoder.load(ROOT / args.autoencoder).eval()
    with torch.no_grad():
        latent = autoencoder.encode(torch.as_tensor(clouds, dtype=torch.float32))
    abar = spec.cosine_alphas_cumprod(spec.NUM_TRAIN_STEPS)

    def tips_to_surface(keypoints):
        tips = keypoints[:, [4, 8, 12, 16, 20]]
        return np.sqrt(((tips[:, :, None] - clouds[:, None]) ** 2).sum(-1)).min(-1).mean() * 100

    rows = []
    for path in args.weights:
        model = JHODDenoiser.load(path).eval()
        mean, std = model.hand_mean.double().numpy(), model.hand_std.double().numpy()
        clean = (hand_state.to_state(params, model.config.rotation) - mean) / std
        obj = model.normalize(None, latent)[1].numpy()
        for t in LEVELS:
            noisy = np.sqrt(abar[t]) * clean + np.sqrt(1 - abar[t]) * np.random.default_rng(t).standard_normal(
                clean.shape)
            given = surface_features.keypoints_of_state(noisy, np.full(args.num, abar[t]), mean, std,
                                                        model.config.rotation, data)
            row = {"model": path, "t": t, "input": np.linalg.norm(given - truth, axis=-1).mean() * 100,
                   "grasp tips": tips_to_surface(truth)}
            variants = [("", None)]
            if model.config.surface:
                variants = [("", surface_features.surface_features(given, clouds)), (" without surface", None)]
            x = torch.as_tensor(np.concatenate([noisy, obj], axis=1), dtype=torch.float32)
            for name, features in variants:
                with torch.no_grad():
                    pred = model(x, torch.full((args.num,), t), torch.zeros(args.num, dtype=torch.long),
                                 surface=None if features is None else torch.as_tensor(features),
                                 hand_only=True)[:, :model.hand_dim].double().numpy()
                hand = hand_state.to_params(pred * std + mean, model.config.rotation)
                keypoints = numpy_forward(data, global_orient=hand[:, :3], hand_pose=hand[:, 3:48],
                                          transl=hand[:, 48:])[2]
                row["prediction" + name] = np.linalg.norm(keypoints - truth, axis=-1).mean() * 100
                row["prediction tips" + name] = tips_to_surface(keypoints)
            rows.append(row)
            print({k: round(v, 2) if isinstance(v, float) else v for k, v in row.items()}, flush=True)

    command = " ".join(argv or sys.argv[1:])
    about = __doc__.split("\n\n")[2].replace("\n", " ")
    lines = [f"# Predicting the clean hand, by noise level\n\n`python bench/low_noise.py {command}` "
             f"({time.strftime('%Y-%m-%d')}, {time.time() - started:.0f} s). {about}\n",
             "| model | t | input: keypoints off (cm) | prediction: keypoints off (cm) | without surface features "
             "| fingertips to surface: grasp / prediction (cm) |", "|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['model']} | {r['t']} | {r['input']:.2f} | {r['prediction']:.2f} | "
                     f"{r.get('prediction without surface', float('nan')):.2f} | {r['grasp tips']:.2f} / "
                     f"{r['prediction tips']:.2f} |")
    text = "\n".join(lines) + "\n"
    if args.out:
        Path(args.out).write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
