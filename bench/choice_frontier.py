"""How far can a better choice among candidates go? Holding against intersection volume, by critic head.

    python bench/choice_frontier.py [--data data/critic_v8/train_0 data/critic_v8/train_1 data/critic_v8/val]
        [--out docs/eval/choice_frontier.md]

The rows of ``training.critic.collect`` (the shipped model's refined samples, each simulated, with exact
penetration and intersection volume) are split five ways by object; every head is fitted on four fifths and
scores the fifth, so each grasp gets a score from a head that never saw its object. The pipeline's choice is then
replayed (``training.critic.train.replay``: blocks of 4 grasps from 4 x K samples, the 4 best-scored kept) and the
kept grasps' holding, depth, intersection volume and share on the part to prefer are reported. Heads: the shipped
recipe (``--label accepted`` MLP + 0.7 x part trees - 15 x depth), an MLP for ``held`` alone, trees for
p(volume > 3 cm3) ("overlap") subtracted with weight b, trees on extra features that ask, per gravity direction,
whether the hand would catch the object within a short fall (``catch_features``); and two oracles that choose by the
simulation itself, one free and one only among grasps within the data engine's penetration and volume limits.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from jhod_core.critic import FEATURE_NAMES, LOCAL_FEATURES, Critic  # noqa: E402
from training.critic.train import (  # noqa: E402
    BLOCK, auc, features_of, fit, fit_part, labels, load_rows, part_labels, replay)
from training.data.corpus import stable_seed  # noqa: E402

SIX = np.array([(1, 0, 0), (-1, 0, 0), (0, 1, 0), (0, -1, 0), (0, 0, 1), (0, 0, -1)], dtype=np.float64)
CATCH_GAPS = (0.01, 0.02)  # m: how far the object may fall before a hand vertex catches it (held: <= 2 cm)
SECTORS = 12


def catch_features(vertices, sd, normal, centre, align=0.32) -> np.ndarray:
    """(G, 2 x (6 x 3 + 1)): per gap and gravity direction g, hand vertices within the gap whose nearest surface
    normal n has n . g >= ``align`` (the object's face that moves along g meets them, inside friction 3's cone):
    whether they surround the object's centre seen along g (no empty half-circle of 12 sectors), their share of the
    hand's vertices, the share of sectors they fill; and per gap the share of the six directions surrounded."""
    g_count = len(vertices)
    rel = vertices - centre
    columns = []
    for gap in CATCH_GAPS:
        near = sd <= gap
        surrounded_all = []
        for g in SIX:
            block = near & ((normal @ g) >= align)
            a = np.array([1.0, 0, 0]) if abs(g[0]) < 0.9 else np.array([0, 1.0, 0])
            u = np.cross(g, a)
            u /= np.linalg.norm(u)
            v = np.cross(g, u)
            angle = np.arctan2(rel @ v, rel @ u)
            sector = ((angle + np.pi) / (2 * np.pi) * SECTORS).astype(int) % SECTORS
            filled = np.zeros((g_count, SECTORS), bool)
            h, k = np.nonzero(block)
            filled[h, sector[h, k]] = True
            twice = np.concatenate([filled, filled], axis=1)
            run, longest = np.zeros(g_count, int), np.zeros(g_count, int)
            for j in range(2 * SECTORS):
                run = np.where(twice[:, j], 0, run + 1)
                longest = np.maximum(longest, run)
            surrounded = (longest < SECTORS // 2) & filled.any(axis=1)
            surrounded_all.append(surrounded)
            columns += [surrounded.astype(float), block.mean(axis=1), filled.mean(axis=1)]
        columns.append(np.stack(surrounded_all, axis=1).mean(axis=1))
    return np.stack(columns, axis=1)


def catch_of(rows: dict) -> np.ndarray:
    from jhod_core.hand import load_hand_data, numpy_forward
    from jhod_core.hand.params import split_params
    from jhod_core.pipeline import prepare_object
    from jhod_core.refine import ObjectSurface
    from training.data.corpus import load_object_mesh

    data = load_hand_data()
    keys = np.char.add(np.char.add(rows["corpus"].astype(str), "/"), rows["object_id"].astype(str))
    out = None
    for key in np.unique(keys):
        sel = np.flatnonzero(keys == key)
        corpus, object_id = key.rsplit("/", 1)
        prepared = prepare_object(load_object_mesh(corpus, object_id), seed=int(rows["seed"][sel[0]]))
        surface = ObjectSurface.from_points(prepared.points, prepared.normals)
        vertices = numpy_forward(data, *split_params(rows["params"][sel].astype(np.float64)))[0]
        f = catch_features(vertices, *surface.signed_distance(vertices), prepared.points.mean(axis=0))
        out = np.zeros((len(keys), f.shape[1])) if out is None else out
        out[sel] = f
    return out


def trees(x, y, seed=0):
    from sklearn.ensemble import GradientBoostingClassifier

    return GradientBoostingClassifier(n_estimators=200, max_depth=3, subsample=0.8, random_state=seed).fit(
        x.astype(np.float32), y)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", nargs="+", type=Path,
                   default=[Path("data/critic_v8") / n for n in ("train_0", "train_1", "val")])
    p.add_argument("--critic", type=Path, default=Path("jhod_core/assets/model/critic.npz"))
    p.add_argument("--candidates", type=int, default=3)
    p.add_argument("--out", type=Path, default=Path("docs/eval/choice_frontier.md"))
    args = p.parse_args(argv)
    start = time.perf_counter()
    rows = load_rows(args.data)
    x, refiner_score, _, depth = features_of(rows)
    rows["depth_cm"] = depth * 100
    catch = catch_of(rows)
    print(f"features of {len(x)} grasps: {time.perf_counter() - start:.0f} s", flush=True)
    ids = rows["object_id"].astype(str)
    fold = np.array([stable_seed("choice-frontier", 0, i) % 5 for i in ids])
    held, accepted = labels(rows, "held").astype(int), labels(rows, "accepted").astype(int)
    overlap = (rows["volume_cm3"] > 3.0).astype(int)
    contact = [n for n in FEATURE_NAMES if n not in LOCAL_FEATURES]
    xc = x[:, [FEATURE_NAMES.index(n) for n in contact]]
    xcatch = np.concatenate([xc, catch], axis=1)
    heads = {k: np.zeros(len(x)) for k in ("accepted", "held", "part", "overlap", "held_catch")}
    for f in range(5):
        fit_on, score_on = fold != f, fold == f
        for name, y in (("accepted", accepted), ("held", held)):
            heads[name][score_on] = fit("mlp", x[fit_on], y[fit_on], 32, 0, contact)(x[score_on])
        part = fit_part(x[fit_on], part_labels(rows)[fit_on], list(FEATURE_NAMES), 0)
        heads["part"][score_on] = 1 / (1 + np.exp(-part.logits(x[score_on].astype(np.float32))))
        heads["overlap"][score_on] = trees(xc[fit_on], overlap[fit_on]).predict_proba(
            xc[score_on].astype(np.float32))[:, 1]
        heads["held_catch"][score_on] = trees(xcatch[fit_on], held[fit_on]).predict_proba(
            xcatch[score_on].astype(np.float32))[:, 1]
        print(f"fold {f + 1}/5: {time.perf_counter() - start:.0f} s", flush=True)

    shipped = Critic.load(args.critic)
    s6 = rows["sim_cm"].mean(axis=1)
    within = (rows["volume_cm3"] <= 3.0) & (rows["penetration_cm"] <= 0.5)
    part, d = heads["part"], 15 * depth
    choices = [("refiner score", refiner_score),
               ("shipped critic (fitted on some of these objects)", shipped.scores(x, depth)),
               ("accepted + 0.7 part - 15 depth (the shipped recipe)", heads["accepted"] + 0.7 * part - d)]
    for b in (0.4, 0.6, 0.8, 1.0):
        choices.append((f"held - {b} overlap + 1.0 part - 15 depth", heads["held"] - b * heads["overlap"] + part - d))
    for b in (0.6, 0.8):
        choices.append((f"held with catch - {b} overlap + 1.0 part - 15 depth",
                        heads["held_catch"] - b * heads["overlap"] + part - d))
    choices += [("held alone", heads["held"]), ("oracle: the simulation", -s6),
                ("oracle within the data engine's overlap limits", 10.0 * within - s6)]

    lines = [f"# {__doc__.splitlines()[0]}", "",
             f"`python bench/choice_frontier.py --data {' '.join(map(str, args.data))}` "
             f"({time.strftime('%Y-%m-%d')}, {time.perf_counter() - start:.0f} s). " + " ".join(
                 __doc__.split("\n\n", 2)[2].split()), "",
             f"{len(x)} grasps of {len(set(ids))} objects ({held.mean():.0%} held, {accepted.mean():.0%} accepted). "
             f"Head AUCs, out of fold: held {auc(heads['held'], held > 0):.3f} (with catch features "
             f"{auc(heads['held_catch'], held > 0):.3f}; among grasps of at most 1.5 cm3 "
             f"{auc(heads['held'][rows['volume_cm3'] <= 1.5], held[rows['volume_cm3'] <= 1.5] > 0):.3f} / "
             f"{auc(heads['held_catch'][rows['volume_cm3'] <= 1.5], held[rows['volume_cm3'] <= 1.5] > 0):.3f}), "
             f"accepted {auc(heads['accepted'], accepted > 0):.3f}, overlap {auc(heads['overlap'], overlap > 0):.3f}.",
             "", f"Choice of {BLOCK} from {BLOCK} x {args.candidates} refined samples, means of the kept grasps "
             "(penetration: the choice's depth before the tidy; volume: exact, before the tidy):", "",
             "| choose by | 6-dir (cm) | -y (cm) | penetration (cm) | volume (cm3) | accepted | on the part |",
             "|---|---|---|---|---|---|---|"]
    for name, score in choices:
        r = replay(rows, score, args.candidates)
        lines.append(f"| {name} | {r['sim_6dir_cm']:.2f} | {r['sim_y_cm']:.2f} | {r['penetration_cm']:.2f} | "
                     f"{r['volume_cm3']:.2f} | {r['accepted']:.0%} | {r['on_part']:.0%} |")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines[-len(choices) - 2:]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
