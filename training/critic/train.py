"""Fit the critic (``jhod_core.critic``) on simulated refined samples and measure it on held-out objects.

    python -m training.critic.train --data data/critic/train --val data/critic/val \
        --out models/critic [--label accepted] [--features contact] [--part-weight 0.7] [--report docs/eval/critic.md]

Features are recomputed from each shard's params against the pipeline's own surface samples of the object
(``prepare_object`` with the stored seed). Label (``--label``): held = six-direction mean displacement <=
``HELD_CM``, or accepted = held and within the data engine's penetration and volume (``labels``). Two fits
on the training objects (logistic regression, and a one-hidden-layer MLP), each chosen on a fifth of the training
objects held out by id; the better one is refitted on all and saved as ``<out>/critic.npz``, with a part head
(``fit_part``: trees on all features, whether the hand holds the object where people do) that the choice adds with
``--part-weight``. On the part: of the kept grasps on objects with a part to prefer, those on it. Reported on the
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

from jhod_core.critic import FEATURE_NAMES, HELD_CM, LOCAL_FEATURES, PENETRATION_WEIGHT, Critic  # noqa: E402
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
    p.add_argument("--label", choices=("held", "accepted", "accepted_on_part"), default="held",
                   help="what the critic predicts (see ``labels``)")
    p.add_argument("--part-weight", type=float, default=0.7,
                   help="weight in the choice of the part head (``fit_part``; 0: none)")
    p.add_argument("--part-data", nargs="*", default=[], type=Path,
                   help="collect.py --no-sim folder(s) whose samples the part head also learns from (objects in "
                        "--val are left out)")
    p.add_argument("--features", choices=("all", "contact"), default="all",
                   help="all of ``FEATURE_NAMES``, or the contact ones only (without the part in the hand)")
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
    ``GraspRefiner.depths``) of every stored grasp. Also sets ``rows["on_part"]`` (G,): 1 where the hand's contact
    is on the object's part to prefer (``accept.contact_on_hold_part``), 0 where off it, -1 on objects without one."""
    from jhod_core.critic import critic_regions, grasp_features
    from jhod_core.hand import load_hand_data, numpy_forward
    from jhod_core.hand.params import split_params
    from jhod_core.pipeline import prepare_object
    from jhod_core.refine import GraspRefiner, ObjectSurface
    from training.data.corpus import load_object_mesh
    from training.synthesize.accept import contact_on_hold_part, object_part_to_prefer

    data = load_hand_data()
    regions = critic_regions(data)
    refiner = GraspRefiner.for_hand(data)
    g = len(rows["object_id"])
    features, score, held, depth = np.zeros((g, len(FEATURE_NAMES))), np.zeros(g), np.zeros(g), np.zeros(g)
    rows["on_part"] = np.full(g, -1, dtype=np.int8)
    keys = np.char.add(np.char.add(rows["corpus"].astype(str), "/"), rows["object_id"].astype(str))
    for key in np.unique(keys):
        sel = np.flatnonzero(keys == key)
        corpus, object_id = key.rsplit("/", 1)
        mesh = load_object_mesh(corpus, object_id)
        prepared = prepare_object(mesh, seed=int(rows["seed"][sel[0]]))
        surface = ObjectSurface.from_points(prepared.points, prepared.normals)
        params = rows["params"][sel].astype(np.float64)
        vertices = numpy_forward(data, *split_params(params))[0]
        features[sel] = grasp_features(vertices, surface, regions)
        hold = object_part_to_prefer(corpus, object_id)
        if hold is not None:
            rows["on_part"][sel] = [contact_on_hold_part(mesh, v, hold) for v in vertices]
        held[sel], depth[sel] = refiner.hold_terms(params, surface)
        score[sel] = held[sel] - SELECT_PENETRATION * depth[sel]  # ``GraspRefiner.scores``
    return features, score, held, depth


def fit(kind: str, x: np.ndarray, y: np.ndarray, hidden: int, seed: int, names=FEATURE_NAMES) -> Critic:
    """A logistic regression or a one-hidden-layer MLP on standardised features ``x`` (G, F) of ``grasp_features``,
    the columns ``names`` of them, as a ``Critic``."""
    x = x[:, [FEATURE_NAMES.index(n) for n in names]]
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
    return Critic(mean, std, layers, {"kind": kind}, names)


def part_labels(rows: dict) -> np.ndarray:
    """1 where the hand holds the object where people do: on its part to prefer, or anywhere on an object without
    one (so that the part head says nothing there); 0 off the part to prefer."""
    return np.where(rows["on_part"] >= 0, rows["on_part"], 1).astype(int)


def fit_part(x: np.ndarray, y: np.ndarray, names, seed: int):
    """Gradient-boosted trees (scikit-learn, 200 of depth 3) on the columns ``names`` of ``x`` (all features
    where the critic uses them: the shape of the part in the hand is what tells a handle), predicting ``y``
    (``part_labels``), as a ``TreeEnsemble``; None where ``y`` has one class only (no object with a part to
    prefer). Trees, not the MLP: on validation objects they found the hand on the handle far better (per-grasp
    AUC 0.93 against 0.77-0.88 for MLPs of 32-128 units; docs/eval/critic_v5.md)."""
    from sklearn.ensemble import GradientBoostingClassifier

    from jhod_core.critic import TreeEnsemble

    if len(np.unique(y)) < 2:
        return None
    x = x[:, [FEATURE_NAMES.index(n) for n in names]].astype(np.float32)
    m = GradientBoostingClassifier(n_estimators=200, max_depth=3, subsample=0.8, random_state=seed).fit(x, y)
    trees = [e.tree_ for e in m.estimators_[:, 0]]
    size = max(t.node_count for t in trees)

    def pad(get, fill):
        return np.stack([np.pad(get(t), (0, size - t.node_count), constant_values=fill) for t in trees])

    leaf_values = [m.learning_rate * t.value[:, 0, 0] for t in trees]
    values = np.stack([np.pad(v, (0, size - len(v))) for v in leaf_values])
    baseline = float(m.decision_function(x[:1])[0] - sum(v[t.apply(x[:1])[0]] for v, t in zip(leaf_values, trees)))
    return TreeEnsemble(pad(lambda t: np.maximum(t.feature, 0), 0), pad(lambda t: t.threshold, 0.0),
                        pad(lambda t: t.children_left, -1), pad(lambda t: t.children_right, -1), values, baseline,
                        max(t.max_depth for t in trees))


def auc(score: np.ndarray, positive: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(positive, score)) if 0 < positive.sum() < len(positive) else float("nan")


def replay(rows: dict, score: np.ndarray, candidates: int) -> dict:
    """The pipeline's choice per object: blocks of ``BLOCK`` grasps, each from ``BLOCK * candidates`` samples (in
    stored order), the ``BLOCK`` best-scored kept. Means of the kept grasps' displacements and depth; the share of
    them on the part to prefer, over objects with one (``rows["on_part"]``, where ``features_of`` has set it); their
    intersection volume where the rows have it."""
    sims, sims_y, depth, accepted, on_part, volume = [], [], [], [], [], []
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
                volume += list(rows["volume_cm3"][keep])
            if "on_part" in rows:
                on_part += [h for h in rows["on_part"][keep] if h >= 0]
    return {"sim_6dir_cm": float(np.mean(sims)), "sim_y_cm": float(np.mean(sims_y)),
            "penetration_cm": float(np.mean(depth)), "grasps": len(sims),
            "accepted": float(np.mean(accepted)) if accepted else None,
            "on_part": float(np.mean(on_part)) if on_part else None,
            "volume_cm3": float(np.mean(volume)) if volume else None}


def _share(value) -> str:
    return "-" if value is None else f"{value:.0%}"


def labels(rows: dict, label: str) -> np.ndarray:
    """held: six-direction displacement <= ``HELD_CM``; accepted: held, and overlapping the object no more than the
    data engine accepts (exact penetration and volume, ``collect.overlap``): a hand sunk round a handle also holds
    in the simulation (in the evaluation 78 % of grasps over 3 cm3 held, 32 % of the others); accepted_on_part:
    accepted, and on objects with a part to prefer (a knife's handle, a pan's) the contact on it
    (``rows["on_part"]``, from ``features_of``): what the data engine keeps, so that the choice does not trade a
    wrapped handle for a pinched blade that also passes the simulation."""
    held = rows["sim_cm"].mean(axis=1) <= HELD_CM
    if label == "held":
        return held
    if "volume_cm3" not in rows:
        raise SystemExit("--label accepted needs penetration and volume in the shards: "
                         "python -m training.critic.collect --add-overlap --out FOLDER")
    thr = Thresholds()
    accepted = held & (rows["penetration_cm"] <= thr.penetration_cm) & (rows["volume_cm3"] <= thr.volume_cm3)
    return accepted & (rows["on_part"] != 0) if label == "accepted_on_part" else accepted


def main(argv=None) -> int:
    args = parse_args(argv)
    start = time.perf_counter()
    train = load_rows(args.data)
    val = load_rows(args.val) if args.val else None  # read once: the report's objects, kept out of --part-data
    x = features_of(train)[0]
    y = labels(train, args.label).astype(int)
    ids = train["object_id"].astype(str)
    names = [n for n in FEATURE_NAMES if args.features == "all" or n not in LOCAL_FEATURES]
    from training.data.corpus import stable_seed

    if min(y.sum(), len(y) - y.sum()) < 2:
        raise SystemExit(f"{len(y)} grasps, {y.sum()} held: both outcomes are needed; collect more objects")
    hold_out = np.array([stable_seed("critic-select", args.seed, i) % 5 == 0 for i in ids])
    choice = {}
    if min(np.bincount(y[hold_out], minlength=2).min(), np.bincount(y[~hold_out], minlength=2).min()) >= 10:
        for kind in ("logistic", "mlp"):
            model = fit(kind, x[~hold_out], y[~hold_out], args.hidden, args.seed, names)
            choice[kind] = auc(model.logits(x[hold_out]), y[hold_out].astype(bool))
    best = max(choice, key=choice.get) if choice else "logistic"  # too few of one outcome to choose: the simpler
    critic = fit(best, x, y, args.hidden, args.seed, names)
    if args.part_weight > 0:
        x_part, y_part = x, part_labels(train)
        if args.part_data:
            more = load_rows(args.part_data)
            val_ids = set(val["object_id"].tolist()) if val is not None else set()
            keep = ~np.isin(more["object_id"], list(val_ids))
            more = {k: v[keep] for k, v in more.items()}
            x_part = np.concatenate([x, features_of(more)[0]])
            y_part = np.concatenate([y_part, part_labels(more)])
            critic.info["part_data_grasps"] = int(keep.sum())
        critic = Critic(critic.mean, critic.std, critic.layers, critic.info, critic.features,
                        fit_part(x_part, y_part, FEATURE_NAMES, args.seed), args.part_weight, FEATURE_NAMES)
    critic.info.update({"kind": best, "label": args.label, "feature_set": args.features, "train_grasps": int(len(y)),
                        "train_objects": int(len(set(ids))), "train_positive_share": float(y.mean()),
                        "selection_auc": choice, "part_head": critic.part is not None})
    args.out.mkdir(parents=True, exist_ok=True)
    critic.save(args.out / "critic.npz")
    summary = {"train": critic.info}
    lines = ["# Critic: choosing the candidate that holds (and holds where people do)", "",
             f"`python -m training.critic.train --data {' '.join(map(str, args.data))} --val "
             f"{' '.join(map(str, args.val))} --out {args.out}"
             + (f" --compare {' '.join(args.compare)}" if args.compare else "")
             + (f" --part-data {' '.join(map(str, args.part_data))}" if args.part_data else "")
             + f" --label {args.label} --features {args.features} --part-weight {args.part_weight:g}` "
             f"({time.strftime('%Y-%m-%d')}). "
             + __doc__.split("\n\n")[2].replace("\n", " "), "",
             f"Fitted on {len(y)} grasps of {len(set(ids))} training objects ({y.mean():.0%} {args.label}); "
             "selection AUC "
             "on a fifth of them: " + (", ".join(f"{k} {v:.3f}" for k, v in choice.items()) or "too few to choose")
             + f"; kept: {best}. "
             + (f"Part head (``fit_part``, {len(critic.part.feature)} trees) in the choice with weight "
                f"{critic.part_weight:g}; its labels: {part_labels(train).mean():.0%} held where people do"
                + (f"; also fitted on {critic.info['part_data_grasps']} unsimulated samples of --part-data."
                   if "part_data_grasps" in critic.info else ".")
                if critic.part is not None else "No part head.")]
    if val is not None:
        xv, score, held, depth = features_of(val)
        val["depth_cm"] = 100 * depth  # what the pipeline's choice weighs: the object inside the hand too
        yv = val["sim_cm"].mean(axis=1) <= HELD_CM
        dropped = val["sim_cm"][:, 2] > DROP_CM
        p = critic.logits(xv)
        scores = {"refiner score (today's choice)": score, "refiner held share": held, "critic": p}
        for w in sorted({0.0, 15.0, 30.0, 60.0, PENETRATION_WEIGHT} - {0.0}):
            mark = " (the pipeline's choice)" if w == PENETRATION_WEIGHT and critic.part is None else ""
            scores[f"critic - {w:g} x depth (m){mark}"] = critic(xv) - w * val["depth_cm"] / 100
        if critic.part is not None:
            for w in sorted({0.2, 0.4, 0.7, critic.part_weight}):
                mark = " (the pipeline's choice)" if w == critic.part_weight else ""
                scores[f"critic + {w:g} x part - {PENETRATION_WEIGHT:g} x depth (m){mark}"] = \
                    critic(xv) + w * critic.on_part(xv) - PENETRATION_WEIGHT * val["depth_cm"] / 100
        for name, path in (item.split("=", 1) for item in args.compare):
            scores[f"{name}: its choice"] = Critic.load(path).scores(xv, val["depth_cm"] / 100)
        scores["oracle (the simulation itself)"] = -val["sim_cm"].mean(axis=1)
        lines += ["", f"Held-out objects: {len(yv)} grasps of {len(set(val['object_id'].tolist()))} objects "
                  f"({yv.mean():.0%} held, {dropped.mean():.0%} dropped on -y).", "",
                  f"| score | AUC held (6-dir <= {HELD_CM:g} cm) | AUC dropped (-y > {DROP_CM:g} cm) | AUC accepted | "
                  f"choice K={args.candidates}: 6-dir (cm) | -y (cm) | penetration (cm) | accepted | on the part |",
                  "|---|---|---|---|---|---|---|---|---|"]
        accepted = labels(val, "accepted") if "volume_cm3" in val else None
        summary["val"] = {}
        for name, s in scores.items():
            r = replay(val, s, args.candidates)
            a_held, a_drop = auc(s, yv), auc(s, ~dropped)
            a_accepted = auc(s, accepted) if accepted is not None else None
            summary["val"][name] = {"auc_held": a_held, "auc_dropped": a_drop, "auc_accepted": a_accepted, **r}
            lines.append(f"| {name} | {a_held:.3f} | {a_drop:.3f} | "
                         f"{'-' if a_accepted is None else f'{a_accepted:.3f}'} | {r['sim_6dir_cm']:.2f} | "
                         f"{r['sim_y_cm']:.2f} | {r['penetration_cm']:.2f} | {_share(r['accepted'])} | "
                         f"{_share(r['on_part'])} |")
        first = replay(val, -val["grasp"].astype(float), args.candidates)  # no choice: the first of each block
        lines += ["", f"Without choice (the first {BLOCK} of each block): 6-dir {first['sim_6dir_cm']:.2f} cm, -y "
                  f"{first['sim_y_cm']:.2f} cm, penetration {first['penetration_cm']:.2f} cm, accepted "
                  f"{_share(first['accepted'])}, on the part {_share(first['on_part'])}. Penetration here is the "
                  "choice's depth (``GraspRefiner.depths``: "
                  "the deepest hand vertex or object sample in the hand); accepted: the data engine's acceptance "
                  "(held, exact penetration <= 0.5 cm and volume <= 3 cm3), where the shards have the overlap."]
        summary["val"]["no choice"] = first
        part = val["on_part"] >= 0
        if critic.part is not None and 0 < (val["on_part"][part] == 1).sum() < part.sum():
            a_part = auc(critic.on_part(xv)[part], val["on_part"][part] == 1)
            summary["val"]["part_head_auc"] = a_part
            lines += ["", f"Part head on the {part.sum()} held-out grasps on objects with a part to prefer: AUC "
                      f"{a_part:.3f} for the contact on it."]
    lines += ["", f"{time.perf_counter() - start:.0f} s."]
    (args.out / "summary.json").write_text(json.dumps(summary, indent=1))
    if args.report:
        args.report.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
