"""Test and benchmark rigs built in real bpy: a generated Rigify human with a crude hand skin."""

import bpy


def rigify_character(side: str = "R"):
    """(rig, hand skin): Rigify's human metarig generated into a rig (FK drives arm and hand), and a skin of capsules
    around one hand's deform bones (a Rigify rig comes without a body mesh)."""
    import addon_utils

    addon_utils.enable("rigify", default_set=True)
    bpy.ops.object.armature_human_metarig_add()
    metarig = bpy.context.active_object
    bpy.ops.pose.rigify_generate()
    rig = next(o for o in bpy.data.objects if o.type == "ARMATURE" and o is not metarig)
    metarig.hide_set(True)
    for pbone in rig.pose.bones:  # FK drives the arm and the hand
        if "IK_FK" in pbone.keys():
            pbone["IK_FK"] = 1.0
    return rig, capsule_skin(rig, side)


def capsule_skin(rig_object, s: str):
    """A mesh of thin cylinders around the DEF bones of one hand, each bound rigidly to its bone."""
    import bmesh

    bm = bmesh.new()
    groups = []
    names = [b.name for b in rig_object.data.bones if b.use_deform and b.name.endswith(f".{s}") and any(
        k in b.name for k in ("hand", "thumb", "f_index", "f_middle", "f_ring", "f_pinky", "palm"))]
    world = rig_object.matrix_world
    for name in names:
        bone = rig_object.data.bones[name]
        head, tail = world @ bone.head_local, world @ bone.tail_local
        geom = bmesh.ops.create_cone(bm, cap_ends=True, segments=8, radius1=0.008, radius2=0.008,
                                     depth=(tail - head).length)
        verts = [e for e in geom["verts"]]
        axis = (tail - head).normalized()
        rot = axis.to_track_quat("Z", "Y").to_matrix().to_4x4()
        bmesh.ops.transform(bm, matrix=rot, verts=verts)
        bmesh.ops.translate(bm, vec=(head + tail) / 2, verts=verts)
        groups.append((name, verts))
    bm.verts.index_update()
    mesh = bpy.data.meshes.new("hand skin")
    index_groups = [(name, [v.index for v in verts]) for name, verts in groups]
    bm.to_mesh(mesh)
    bm.free()
    obj = bpy.data.objects.new("hand skin", mesh)
    bpy.context.scene.collection.objects.link(obj)
    for name, ids in index_groups:
        obj.vertex_groups.new(name=name).add(ids, 1.0, "REPLACE")
    modifier = obj.modifiers.new("Armature", "ARMATURE")
    modifier.object = rig_object
    return obj
