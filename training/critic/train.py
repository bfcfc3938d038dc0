"""Fit the critic (``jhod_core.critic``) on simulated refined samples and measure it on held-out objects.

    python -m training.critic.train --data data/critic/train --val data/critic/val \
        --out models/critic [--report docs/eval/critic.md]

Features are recomputed from each shard's params against the pipeline's own surface samples of the object
(``prepare_object`` with the stored seed). Label (``--label``): held = six-direction mean displacement <=
``HELD_CM``, or accepted = held and within the data engine's penetration and volume (``labels``). Two fits
on the training objects (logistic regression, and a one-hidden-layer MLP), each chosen on a fifth of the training
objects held out by id; the better one is refitted on all and saved as ``<out>/critic.npz``. Reported on the
``--val`` objects: ROC AUC for "held" and for the tuning report's "dropped" (-y displacement over 5 cm) of the
refiner's score (what the pipeline chooses by today), its held share alone, and the critic; and the choice
replayed as the pipeline makes it (blocks of 4 grasps from 4 x K samples, the 4 best-scored kept) with K = 3.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from training.synthesize.accept import Thresholds  # noqa: E402

from jhod_core.critic import FEATURE_NAMES, HELD_CM, PENETRATION_WEIGHT, Critic  # noqa: E402
from jhod_core.refine import SELECT_PENETRATION  # noqa: E402

DROP_CM = 5.0  # training.eval.tune_selection: over 5 cm of -y displacement the hand did not hold the object
BLOCK = 4


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", nargs="+", required=True, type=Path, help="collect.py output folder(s) to fit on")
    p.add_argument("--val", nargs="*", default=[], type=Path, help="collect.py output folder(s) to report on")
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--hidden", type=int, default=32)
    p.add_argument("--candidates", type=int, default=3, help="K of the replayed choice")
    p.add_argument("--report", type=Path, default=None, help="markdown report path")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--label", choices=("held", "accepted"), default="held",
                   help="what the critic predicts (see ``labels``)")
    p.add_argument("--compare", nargs="*", default=[], metavar="NAME=CRITIC_NPZ",
                   help="earlier critics to replay on the same held-out samples, e.g. v1=models/critic_v1/critic.npz")
    args = p.parse_args(argv)
    for item in args.compare:
        if "=" not in item or not Path(item.split("=", 1)[1]).is_file():
            p.error(f"--compare takes NAME=CRITIC_NPZ with an existing file, got {item!r}")
    return args


def load_rows(folders) -> dict:
    parts = []
    for folder in folders:
        for path in sorted((Path(folder) / "shards").glob("shard_*.npz")):
            with np.load(path, allow_pickle=False) as z:
                parts.append({k: z[k] for k in z.files})
    if not parts:
        raise SystemExit(f"no shards in {', '.join(map(str, folders))}: run python -m training.critic.collect")
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def features_of(rows: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(features (G, F), refiner score (G,), refiner held share (G,), the choice's depth (G,), m:
    ``GraspRefiner.depths``) of every stored grasp."""
    from jhod_core.critic import critic_regions, grasp_features
    from jhod_core.hand import load_hand_data, numpy_forward
    from jhod_core.hand.params import split_params
    from jhod_core.pipeline import prepare_object
    from jhod_core.refine import GraspRefiner, ObjectSurface
    from training.data.corpus import load_object_mesh

    data = load_hand_data()
    regions = critic_regions(data)
    refiner = GraspRefiner.for_hand(data)
    g = len(rows["object_id"])
    features, score, held, depth = np.zeros((g, len(FEATURE_NAMES))), np.zeros(g), np.zeros(g), np.zeros(g)
    keys = np.char.add(np.char.add(rows["corpus"].astype(str), "/"), rows["object_id"].astype(str))
    for key in np.unique(keys):
        sel = np.flatnonzero(keys == key)
        corpus, object_id = key.rsplit("/", 1)
        prepared = prepare_object(load_object_mesh(corpus, object_id), seed=int(rows["seed"][sel[0]]))
        surface = ObjectSurface.from_points(prepared.points, prepared.normals)
        params = rows["params"][sel].astype(np.float64)
        vertices = numpy_forward(data, *split_params(params))[0]
        features[sel] = grasp_features(vertices, surface, regions)
        held[sel], depth[sel] = refiner.hold_terms(params, surface)
        score[sel] = held[sel] - SELECT_PENETRATION * depth[sel]  # ``GraspRefiner.scores``
    return features, score, held, depth


def fit(kind: str, x: np.ndarray, y: np.ndarray, hidden: int, seed: int) -> Critic:
    """A logistic regression or a one-hidden-layer MLP on standardised features, as a ``Critic``."""
    mean, std = x.mean(axis=0), np.maximum(x.std(axis=0), 1e-6)
    z = (x - mean) / std
    if kind == "logistic":
        from sklearn.linear_model import LogisticRegression

        m = LogisticRegression(C=1.0, max_iter=2000).fit(z, y)
        layers = [(m.coef_.T.astype(np.float64), m.intercept_.astype(np.float64))]
    else:
        from sklearn.neural_network import MLPClassifier

        m = MLPClassifier(hidden_layer_sizes=(hidden,), alpha=1e-2, max_iter=1500, early_stopping=True,
                          random_state=seed).fit(z, y)
        layers = [(w.astype(np.float64), b.astype(np.float64)) for w, b in zip(m.coefs_, m.intercepts_)]
    return Critic(mean, std, layers, {"kind": kind})


def auc(score: np.ndarray, positive: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(positive, score)) if 0 < positive.sum() < len(positive) else float("nan")


def replay(rows: dict, score: np.ndarray, candidates: int) -> dict:
    """The pipeline's choice per object: blocks of ``BLOCK`` grasps, each from ``BLOCK * candidates`` samples (in
    stored order), the ``BLOCK`` best-scored kept. Means of the kept grasps' displacements and depth."""
    sims, sims_y, depth, accepted = [], [], [], []
    passed = labels(rows, "accepted") if "volume_cm3" in rows else None
    keys = np.char.add(rows["corpus"].astype(str), rows["object_id"].astype(str))
    group = BLOCK * candidates
    for key in np.unique(keys):
        sel = np.flatnonzero(keys == key)
        sel = sel[np.argsort(rows["grasp"][sel])]
        for start in range(0, len(sel) - group + 1, group):
            block = sel[start:start + group]
            keep = block[np.argsort(-score[block], kind="stable")[:BLOCK]]
            sims += list(rows["sim_cm"][keep].mean(axis=1))
            sims_y += list(rows["sim_cm"][keep][:, 2])
            depth += list(rows["depth_cm"][keep])
            if passed is not None:
                accepted += list(passed[keep])
    return {"sim_6dir_cm": float(np.mean(sims)), "sim_y_cm": float(np.mean(sims_y)),
            "penetration_cm": float(np.mean(depth)), "grasps": len(sims),
            "accepted": float(np.mean(accepted)) if accepted else None}


def _share(value) -> str:
    return "-" if value is None else f"{value:.0%}"


def labels(rows: dict, label: str) -> np.ndarray:
    """held: six-direction displacement <= ``HELD_CM``; accepted: held, and overlapping the object no more than the
    data engine accepts (exact penetration and volume, ``collect.overlap``): a hand sunk round a handle also holds
    in the simulation (in the evaluation 78 % of grasps over 3 cm3 held, 32 % of the others)."""
    held = rows["sim_cm"].mean(axis=1) <= HELD_CM
    if label == "held":
        return held
    if "volume_cm3" not in rows:
        raise SystemExit("--label accepted needs penetration and volume in the shards: "
                         "python -m training.critic.collect --add-overlap --out FOLDER")
    thr = Thresholds()
    return held & (rows["penetration_cm"] <= thr.penetration_cm) & (rows["volume_cm3"] <= thr.volume_cm3)


def main(argv=None) -> int:
    args = parse_args(argv)
    start = time.perf_counter()
    train = load_rows(args.data)
    x = features_of(train)[0]
    y = labels(train, args.label).astype(int)
    ids = train["object_id"].astype(str)
    from training.data.corpus import stable_seed

    if min(y.sum(), len(y) - y.sum()) < 2:
        raise SystemExit(f"{len(y)} grasps, {y.sum()} held: both outcomes are needed; collect more objects")
    hold_out = np.array([stable_seed("critic-select", args.seed, i) % 5 == 0 for i in ids])
    choice = {}
    if min(np.bincount(y[hold_out], minlength=2).min(), np.bincount(y[~hold_out], minlength=2).min()) >= 10:
        for kind in ("logistic", "mlp"):
            model = fit(kind, x[~hold_out], y[~hold_out], args.hidden, args.seed)
            choice[kind] = auc(model.logits(x[hold_out]), y[hold_out].astype(bool))
    best = max(choice, key=choice.get) if choice else "logistic"  # too few of one outcome to choose: the simpler
    critic = fit(best, x, y, args.hidden, args.seed)
    critic.info.update({"kind": best, "label": args.label, "train_grasps": int(len(y)),
                        "train_objects": int(len(set(ids))), "train_positive_share": float(y.mean()),
                        "selection_auc": choice})
    args.out.mkdir(parents=True, exist_ok=True)
    critic.save(args.out / "critic.npz")
    summary = {"train": critic.info}
    lines = ["# Critic: choosing the candidate that holds", "",
             f"`python -m training.critic.train --data {' '.join(map(str, args.data))} --val "
             f"{' '.join(map(str, args.val))} --out {args.out}"
             + (f" --compare {' '.join(args.compare)}" if args.compare else "") + f" --label {args.label}` "
             f"({time.strftime('%Y-%m-%d')}). "
             + __doc__.split("\n\n")[2].replace("\n", " "), "",
             f"Fitted on {len(y)} grasps of {len(set(ids))} training objects ({y.mean():.0%} {args.label}); "
             "selection AUC "
             "on a fifth of them: " + (", ".join(f"{k} {v:.3f}" for k, v in choice.items()) or "too few to choose")
             + f"; kept: {best}."]
    if args.val:
        val = load_rows(args.val)
        xv, score, held, depth = features_of(val)
        val["depth_cm"] = 100 * depth  # what the pipeline's choice weighs: the object inside the hand too
        yv = val["sim_cm"].mean(axis=1) <= HELD_CM
        dropped = val["sim_cm"][:, 2] > DROP_CM
        p = critic.logits(xv)
        scores = {"refiner score (today's choice)": score, "refiner held share": held, "critic": p}
        for w in sorted({0.0, 15.0, 30.0, 60.0, PENETRATION_WEIGHT} - {0.0}):
            mark = " (the pipeline's choice)" if w == PENETRATION_WEIGHT else ""
            scores[f"critic - {w:g} x depth (m){mark}"] = critic(xv) - w * val["depth_cm"] / 100
        for name, path in (item.split("=", 1) for item in args.compare):
            scores[f"{name} - {PENETRATION_WEIGHT:g} x depth (m)"] = \
                Critic.load(path)(xv) - PENETRATION_WEIGHT * val["depth_cm"] / 100
        scores["oracle (the simulation itself)"] = -val["sim_cm"].mean(axis=1)
        lines += ["", f"Held-out objects: {len(yv)} grasps of {len(set(val['object_id'].tolist()))} objects "
                  f"({yv.mean():.0%} held, {dropped.mean():.0%} dropped on -y).", "",
                  f"| score | AUC held (6-dir <= {HELD_CM:g} cm) | AUC dropped (-y > {DROP_CM:g} cm) | AUC accepted | "
                  f"choice K={args.candidates}: 6-dir (cm) | -y (cm) | penetration (cm) | accepted |",
                  "|---|---|---|---|---|---|---|---|"]
        accepted = labels(val, "accepted") if "volume_cm3" in val else None
        summary["val"] = {}
        for name, s in scores.items():
            r = replay(val, s, args.candidates)
            a_held, a_drop = auc(s, yv), auc(s, ~dropped)
            a_accepted = auc(s, accepted) if accepted is not None else None
            summary["val"][name] = {"auc_held": a_held, "auc_dropped": a_drop, "auc_accepted": a_accepted, **r}
            lines.append(f"| {name} | {a_held:.3f} | {a_drop:.3f} | "
                         f"{'-' if a_accepted is None else f'{a_accepted:.3f}'} | {r['sim_6dir_cm']:.2f} | "
                         f"{r['sim_y_cm']:.2f} | {r['penetration_cm']:.2f} | {_share(r['accepted'])} |")
        first = replay(val, -val["grasp"].astype(float), args.candidates)  # no choice: the first of each block
        lines += ["", f"Without choice (the first {BLOCK} of each block): 6-dir {first['sim_6dir_cm']:.2f} cm, -y "
                  f"{first['sim_y_cm']:.2f} cm, penetration {first['penetration_cm']:.2f} cm, accepted "
                  f"{_share(first['accepted'])}. Penetration here is the choice's depth (``GraspRefiner.depths``: "
                  "the deepest hand vertex or object sample in the hand); accepted: the data engine's acceptance "
                  "(held, exact penetration <= 0.5 cm and volume <= 3 cm3), where the shards have the overlap."]
        summary["val"]["no choice"] = first
    lines += ["", f"{time.perf_counter() - start:.0f} s."]
    (args.out / "summary.json").write_text(json.dumps(summary, indent=1))
    if args.report:
        args.report.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
