"""How well grasps transfer to characters: Apply to Character on the CC0 MakeHuman body and on a generated Rigify rig.

    python bench/retarget_report.py [--objects 10] [--grasps 4] [--out docs/eval/retarget.md]

Real bpy. Objects: the first validation object of each of ten everyday families (cans, mugs, bottles, boxes, balls,
glasses, jars, flashlights, fruit, phones), placed in front of each character's chest; grasps: the shipped model's
first ``--grasps`` right-hand grasps of each (seed 0), as the add-on makes them. For each grasp and character: digits
of the character's hand within 5 mm of the object (the metrics' contact threshold), the deepest penetration of the
character's evaluated hand skin into the object, and the six-direction simulation displacement of the object held
by the character's hand skin, next to the same numbers for the grasp's own (built-in) hand. The Rigify rig has no
body mesh: its hand skin is a set of 8 mm capsules around its deform bones, bound rigidly (what a test can build).
Writes the table and a picture sheet (docs/images/retarget_sheet.png).
"""

from __future__ import annotations

import argparse
import datetime
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
FAMILIES = ("can", "mug_v2", "bottle_v2", "box_v2", "ball", "glass", "jar", "flashlight", "fruit", "phone")
CHEST_OFFSET = np.array([-0.10, -0.28, -0.17])  # from the right shoulder: in front of the chest


def objects(n: int) -> list[tuple[str, Path]]:
    from training.data.corpus import load_manifest

    corpus = ROOT / "data" / "objects_everyday"
    rows = load_manifest(corpus)
    out = []
    for family in FAMILIES[:n]:
        row = next(r for r in rows if r["family"] == family and r["split"] == "val")
        out.append((row["id"], corpus / "meshes" / f"{row['id']}.ply"))
    return out


def hand_skin(char, mapping: dict, unit: float) -> tuple[np.ndarray, np.ndarray]:
    """(vertices (world metres), faces) of the character's evaluated skin that the hand's bones move most."""
    import bpy

    from jhod_blender import character

    wrist = char.data.bones[mapping["wrist"]]
    hand_bones = {wrist.name, *(b.name for b in wrist.children_recursive)}
    hand_bones |= {f"DEF-{n}" for n in hand_bones} | {mapping[j] for j in mapping}
    if mapping["wrist"].startswith("hand_fk"):  # Rigify: the hand's deform bones
        hand_bones |= {b.name for b in char.data.bones if b.name.startswith("DEF-") and b.name.endswith(
            mapping["wrist"][-2:]) and any(k in b.name for k in ("hand", "thumb", "f_", "palm"))}
    depsgraph = bpy.context.evaluated_depsgraph_get()
    verts, faces = [], []
    for mesh in character.character_meshes(char):
        names = {g.index: g.name for g in mesh.vertex_groups}
        keep = np.zeros(len(mesh.data.vertices), bool)
        for v in mesh.data.vertices:
            best = max(((g.weight, g.group) for g in v.groups), default=(0.0, -1))
            keep[v.index] = names.get(best[1]) in hand_bones
        evaluated = mesh.evaluated_get(depsgraph)
        me = evaluated.to_mesh()
        co = np.array([v.co for v in me.vertices])
        tris = np.array([tuple(t.vertices) for t in me.loop_triangles]) if me.loop_triangles else np.zeros((0, 3), int)
        evaluated.to_mesh_clear()
        if not len(tris):
            me2 = mesh.data
            me2.calc_loop_triangles()
            tris = np.array([tuple(t.vertices) for t in me2.loop_triangles])
        m = np.array(evaluated.matrix_world)
        world = (co @ m[:3, :3].T + m[:3, 3]) * unit
        index = -np.ones(len(world), int)
        index[keep] = np.arange(keep.sum()) + sum(len(v) for v in verts)
        inside = keep[tris].all(1)
        verts.append(world[keep])
        faces.append(index[tris[inside]])
    return np.concatenate(verts), np.concatenate(faces)


def measure(obj_mesh, vertices, faces, finger_ids=None, skin_fingers=None) -> dict:
    import trimesh

    from jhod_core import metrics
    from jhod_core.geometry.inside import signed_distance

    sd = signed_distance(obj_mesh, vertices)
    out = {"depth_cm": float(max(0.0, -sd.min()) * 100)}
    if finger_ids is not None:
        out["digits"] = sum(bool((sd[ids] <= metrics.CONTACT_THRESHOLD).any()) for ids in finger_ids.values())
    else:
        out["digits"] = sum(bool((signed_distance(obj_mesh, pts) <= metrics.CONTACT_THRESHOLD).any())
                            for pts in skin_fingers if len(pts))
    hand = trimesh.Trimesh(vertices, faces, process=False)
    out["sim_cm"] = metrics.simulation_displacement_6dir(obj_mesh, hand)
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=10)
    parser.add_argument("--grasps", type=int, default=4)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "eval" / "retarget.md")
    parser.add_argument("--sheet", type=Path, default=ROOT / "docs" / "images" / "retarget_sheet.png")
    args = parser.parse_args(argv)

    import bpy

    import jhod_blender
    from jhod_blender import character, rig
    from jhod_core.errors import JHODError
    from jhod_core.geometry.mesh import load_mesh
    from jhod_core.hand import load_hand_data
    from jhod_core.hand.regions import finger_vertex_ids
    from jhod_core.retarget import FINGERS, preset_mapping
    from jhod_core.sample import sample_grasps
    from tests.rigs import rigify_character

    data = load_hand_data()
    fingers = finger_vertex_ids(data)
    rows, pictures = [], []
    t0 = time.time()
    for rig_name in ("makehuman", "rigify"):
        for object_id, path in objects(args.objects):
            mesh = load_mesh(path)
            grasps = sample_grasps(mesh, args.grasps, seed=0, backend="numpy")
            for g in range(args.grasps):
                bpy.ops.wm.read_factory_settings(use_empty=True)
                jhod_blender.register()
                entry = bpy.context.preferences.addons.new()
                entry.module = "jhod_blender"
                entry.preferences.backend = "NUMPY"
                try:
                    if rig_name == "makehuman":
                        assert bpy.ops.jhod.add_character() == {"FINISHED"}
                        char = bpy.context.view_layer.objects.active
                        shoulder_bone = "upperarm01.R"
                    else:
                        char, _ = rigify_character("R")
                        shoulder_bone = "upper_arm_fk.R"
                    centre = np.array(char.matrix_world @ char.pose.bones[shoulder_bone].head) + CHEST_OFFSET
                    placed = mesh.copy()
                    placed.apply_translation(centre)
                    me = bpy.data.meshes.new(object_id)
                    me.from_pydata(placed.vertices.tolist(), [], placed.faces.tolist())
                    obj = bpy.data.objects.new(object_id, me)
                    bpy.context.scene.collection.objects.link(obj)
                    collection = bpy.context.scene.collection
                    hand, skin = rig.build_hand(data, "grasp", collection, dressed=True)
                    rig.apply_pose(hand, skin, data, grasps["global_orient"][g], grasps["hand_pose"][g],
                                   grasps["transl"][g] + centre)
                    hand["jhod_side"], hand["jhod_object"] = "right", obj.name
                    bpy.context.view_layer.update()
                    own = measure(placed, rig.evaluated_vertices(skin), data.closed_faces, finger_ids=fingers)
                    mapping = preset_mapping(rig_name, "right")
                    try:
                        character.apply_to_character(bpy.context, hand, skin, char, rig_name)
                    except JHODError as exc:
                        rows.append({"rig": rig_name, "object": object_id, "grasp": g, "own": own, "error": str(exc)})
                        continue
                    vertices, faces = hand_skin(char, mapping, 1.0)
                    skin_fingers = character._finger_vertices(character.character_meshes(char), mapping,
                                                              bpy.context.evaluated_depsgraph_get(), 1.0)
                    per_finger = [np.concatenate([skin_fingers[mapping[f"{f}{i}"]] for i in (1, 2, 3)])
                                  for f in FINGERS]
                    theirs = measure(placed, vertices, faces, skin_fingers=per_finger)
                    rows.append({"rig": rig_name, "object": object_id, "grasp": g, "own": own, "char": theirs})
                    print(rig_name, object_id, g, own, theirs, f"{time.time() - t0:.0f}s", flush=True)
                    if g == 0 and len([p for p in pictures if p[0] == rig_name]) < 5:
                        pictures.append((rig_name, object_id, picture(obj, skin, hand, centre)))
                finally:
                    jhod_blender.unregister()
    write_report(rows, pictures, args)
    return 0


def picture(obj, skin, hand, centre) -> np.ndarray:
    """A Workbench render of the character's hand holding the object (the JHOD hand hidden)."""
    import tempfile

    import bpy
    from mathutils import Vector

    from jhod_blender import render

    scene = bpy.context.scene
    for o in (skin, hand):
        o.hide_render = True
    scene.render.engine = "BLENDER_WORKBENCH"
    scene.render.resolution_x = scene.render.resolution_y = 320
    scene.display.shading.light, scene.display.shading.color_type = "STUDIO", "MATERIAL"
    cam = bpy.data.objects.new("cam", bpy.data.cameras.new("cam"))
    scene.collection.objects.link(cam)
    scene.camera = cam
    target = Vector(centre.tolist())
    cam.location = target + Vector((0.25, -0.45, 0.12))
    cam.rotation_euler = (target - cam.location).to_track_quat("-Z", "Y").to_euler()
    with tempfile.TemporaryDirectory() as tmp:
        scene.render.filepath = str(Path(tmp) / "view.png")
        bpy.ops.render.render(write_still=True)
        return render.read_image(Path(tmp) / "view.png")[..., :3]


def write_report(rows, pictures, args) -> None:
    from jhod_blender import maps

    lines = ["# Grasps on characters (Apply to Character)", "",
             f"`python bench/retarget_report.py --objects {args.objects} --grasps {args.grasps}` on "
             f"{datetime.date.today()}. " + __doc__.split("\n\n")[2].replace("\n", " "), "",
             "| rig | grasps | applied | digits in contact (built-in / character) | deepest penetration, cm, mean "
             "(built-in / character) | simulation 6-dir, cm, mean (built-in / character) | held <= 2 cm (built-in "
             "/ character) |", "|---|---|---|---|---|---|---|"]
    for rig_name in ("makehuman", "rigify"):
        mine = [r for r in rows if r["rig"] == rig_name]
        done = [r for r in mine if "char" in r]
        if not done:
            continue

        def mean(key, who):
            return np.mean([r[who][key] for r in done])

        held = [np.mean([r[who]["sim_cm"] <= 2.0 for r in done]) for who in ("own", "char")]
        lines.append(f"| {rig_name} | {len(mine)} | {len(done)} | {mean('digits', 'own'):.1f} / "
                     f"{mean('digits', 'char'):.1f} | {mean('depth_cm', 'own'):.2f} / {mean('depth_cm', 'char'):.2f} "
                     f"| {mean('sim_cm', 'own'):.2f} / {mean('sim_cm', 'char'):.2f} | {held[0]:.0%} / {held[1]:.0%} |")
    errors = [r for r in rows if "error" in r]
    if errors:
        lines += ["", "Not applied (the operator refused, nothing changed):", ""]
        lines += [f"- {r['rig']} {r['object']} grasp {r['grasp']}: {r['error']}" for r in errors]
    lines += ["", "Per grasp:", "", "| rig | object | grasp | built-in: digits, depth cm, sim cm | character: digits, "
              "depth cm, sim cm |", "|---|---|---|---|---|"]
    for r in rows:
        c = r.get("char")
        lines.append(f"| {r['rig']} | {r['object']} | {r['grasp']} | {r['own']['digits']}, {r['own']['depth_cm']:.2f}, "
                     f"{r['own']['sim_cm']:.2f} | " + (f"{c['digits']}, {c['depth_cm']:.2f}, {c['sim_cm']:.2f}"
                                                       if c else "refused") + " |")
    if pictures:
        sheet = maps.sheet([[p for _, _, p in pictures[:5]], [p for _, _, p in pictures[5:10]]], cell=256)
        maps.write_png(args.sheet, sheet)
        lines += ["", f"![characters holding objects](../images/{args.sheet.name})", "",
                  "Top: the MakeHuman character; bottom: the Rigify rig's capsule hand (first grasp of each object)."]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    sys.exit(main())
