"""Everyday objects built from labelled parts (object corpus v2): knives, hammers, pans, mugs, glasses, jars...

Every ``make_<family>(rng)`` returns a ``PartedObject``: one closed mesh (the union of its parts, metres, standing
along +z, not centred) and, per face, the part it belongs to, with each part marked as a place a person would
hold the object (``hold``: handles, grips, stems, the body of a bottle) or not (blades, the pan of a frying pan,
the head of a hammer). The labels steer synthesis towards grasps people make and measure it (share of grasps
whose contact centroid lies on a hold part).

Parts are closed solids (``procedural``'s surfaces of revolution, hulls, grips, tori) joined with manifold3d; a
face of the union takes the part whose surface is nearest to its centre. Sizes are realistic per family (a
paring knife is not a cleaver), drawn from ``rng``: same seed, same object.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import trimesh

from .procedural import _arc, _boolean, _finish, _grip, _hull, _move, _revolve, _torus

HOLD, NO_HOLD = True, False


@dataclass
class Part:
    name: str
    mesh: trimesh.Trimesh
    hold: bool


@dataclass
class PartedObject:
    """A closed mesh with a part per face: ``face_part`` (F,) indexes ``part_names`` / ``part_hold``."""

    mesh: trimesh.Trimesh
    face_part: np.ndarray
    part_names: list[str]
    part_hold: np.ndarray

    @property
    def hold_faces(self) -> np.ndarray:
        """(F,) bool: faces of parts a person would hold."""
        return self.part_hold[self.face_part]


def assemble(parts: list[Part], subtract: list[trimesh.Trimesh] = ()) -> PartedObject:
    """Union of the parts (minus ``subtract``: cavities), each face labelled with its nearest part."""
    mesh = parts[0].mesh.copy() if len(parts) == 1 else _manifold(trimesh.boolean.union, [p.mesh for p in parts])
    if subtract:
        mesh = _manifold(trimesh.boolean.difference, [mesh, *subtract])
    centres = mesh.triangles_center
    distance = np.stack([np.abs(trimesh.proximity.closest_point(p.mesh, centres)[1]) for p in parts], axis=1)
    # a face on a cavity wall is nearest to the part it was cut from (its outer surface is farther than the wall)
    return PartedObject(mesh, distance.argmin(axis=1).astype(np.uint8),
                        [p.name for p in parts], np.array([p.hold for p in parts], dtype=bool))


def _manifold(operation, meshes: list[trimesh.Trimesh]) -> trimesh.Trimesh:
    """A boolean with manifold3d, kept as it comes out: its result is closed by construction, and welding it again
    (``procedural._finish``) can pinch near-coincident vertices into an open edge."""
    mesh = operation(meshes, engine="manifold")
    if mesh.volume < 0:
        mesh.invert()
    return mesh


def _rotate(mesh: trimesh.Trimesh, angle: float, axis) -> trimesh.Trimesh:
    mesh.apply_transform(trimesh.transformations.rotation_matrix(angle, axis))
    return mesh


def _tube(radius: float, z0: float, z1: float, sections: int = 20) -> trimesh.Trimesh:
    """Closed cylinder along z from z0 to z1."""
    return _revolve([[radius, z0], [radius, z1]], z0, z1, sections=sections)


def _slab(length: float, width: float, thickness: float, corner: float, taper: float = 1.0) -> trimesh.Trimesh:
    """Rounded rectangle slab in xy (x from 0 to length), optionally narrowing to ``taper`` x width at x = length."""
    theta = np.linspace(0, 2 * np.pi, 10, endpoint=False)
    ring = corner * np.stack([np.cos(theta), np.sin(theta)], 1)
    pts = []
    for x, w in ((corner, width), (length - corner, width * taper)):
        for sy in (-1, 1):
            pts.append(ring + [x, sy * (w / 2 - corner)])
    xy = np.vstack(pts)
    return _hull(np.vstack([np.column_stack([xy, np.full(len(xy), z)]) for z in (-thickness / 2, thickness / 2)]))


# --------------------------------------------------------------------------- tools and utensils

def make_kitchen_knife(rng: np.random.Generator) -> PartedObject:
    """Paring to chef's knife: oval handle 9-13 cm, flat blade 7-20 cm long, 1.5-5 cm wide, 1.5-3 mm thick."""
    radius = rng.uniform(0.009, 0.014)
    grip_len = rng.uniform(0.09, 0.13)
    grip = _grip(radius, grip_len, rng.uniform(0.0, 0.08))
    grip.apply_scale([rng.uniform(0.45, 0.65), 1.0, 1.0])
    blade_len, width = rng.uniform(0.07, 0.20), rng.uniform(0.015, 0.05)
    thickness = rng.uniform(0.0015, 0.003)
    z0 = grip_len - 0.012
    t = np.linspace(0, np.pi / 2, 8)
    edge = np.stack([width / 2 - width * np.cos(t), z0 + blade_len * np.sin(t)], 1)
    outline = np.vstack([[[width / 2, z0]], edge])
    blade = _hull(np.vstack([np.column_stack([np.full(len(outline), x), outline]) for x in (-thickness / 2,
                                                                                             thickness / 2)]))
    return assemble([Part("handle", grip, HOLD), Part("blade", blade, NO_HOLD)])


def make_hammer(rng: np.random.Generator) -> PartedObject:
    """Hammer or mallet 20-35 cm: round grip, steel or wooden head 8-15 cm across."""
    length, side = rng.uniform(0.20, 0.35), rng.uniform(0.022, 0.04)
    head_len = rng.uniform(0.08, 0.15)
    grip = _grip(min(rng.uniform(0.011, 0.017), 0.4 * side), length - side / 2, rng.uniform(0.0, 0.12))
    if rng.random() < 0.5:
        head = trimesh.creation.box(extents=[head_len, side, side])
    else:
        head = _rotate(_tube(side / 2, -head_len / 2, head_len / 2), np.pi / 2, [0, 1, 0])
    return assemble([Part("handle", grip, HOLD), Part("head", _move(head, [0.0, 0.0, length - side / 2]), NO_HOLD)])


def make_screwdriver(rng: np.random.Generator) -> PartedObject:
    """Screwdriver 12-28 cm: grip 8-13 cm, steel shaft 2-4 mm thick."""
    grip_len = rng.uniform(0.08, 0.13)
    radius = rng.uniform(0.011, 0.018)
    grip = _grip(radius, grip_len, rng.uniform(0.0, 0.15))
    shaft_r, shaft_len = rng.uniform(0.002, 0.004), rng.uniform(0.05, 0.15)
    z0 = grip_len - 0.01
    tip = rng.uniform(0.006, 0.012)
    shaft = _revolve([[shaft_r, z0], [shaft_r, z0 + shaft_len], [0.35 * shaft_r, z0 + shaft_len + tip]],
                     z0, z0 + shaft_len + tip, sections=12)
    _rotate(shaft, rng.uniform(0.05, 0.2), [0, 0, 1])  # off the grip's vertex angles: no slivers in the union
    return assemble([Part("handle", grip, HOLD), Part("shaft", shaft, NO_HOLD)])


def make_spatula(rng: np.random.Generator) -> PartedObject:
    """Kitchen turner or spoon 22-35 cm: flat handle, then a flat blade or a spoon bowl."""
    handle_len = rng.uniform(0.14, 0.22)
    handle = _slab(handle_len, rng.uniform(0.015, 0.025), rng.uniform(0.006, 0.01), 0.004, rng.uniform(0.5, 0.8))
    handle = _rotate(handle, -np.pi / 2, [0, 1, 0])  # along +z
    if rng.random() < 0.5:  # turner: thin wide blade
        head = _slab(rng.uniform(0.07, 0.11), rng.uniform(0.05, 0.09), rng.uniform(0.002, 0.004), 0.006)
        head = _rotate(head, -np.pi / 2, [0, 1, 0])
        _move(head, [0.0, 0.0, handle_len - 0.01])
        name = "blade"
    else:  # spoon / ladle bowl: a flattened ellipsoid
        a = rng.uniform(0.025, 0.05)
        head = trimesh.creation.icosphere(subdivisions=3, radius=1.0)
        head.apply_scale([rng.uniform(0.01, 0.02), a * rng.uniform(0.6, 0.8), a])
        _move(head, [0.0, 0.0, handle_len + a * 0.8])
        name = "bowl"
    return assemble([Part("handle", handle, HOLD), Part(name, head, NO_HOLD)])


def make_brush(rng: np.random.Generator) -> PartedObject:
    """Hair brush, dish brush or toothbrush 15-25 cm: a handle and a wider bristle head."""
    handle_len = rng.uniform(0.10, 0.17)
    radius = rng.uniform(0.006, 0.014)
    handle = _grip(radius, handle_len, rng.uniform(0.0, 0.1))
    handle.apply_scale([rng.uniform(0.5, 0.9), 1.0, 1.0])
    head_len = rng.uniform(0.03, 0.09)
    head = trimesh.creation.box(extents=[rng.uniform(0.012, 0.03), rng.uniform(0.015, 0.06), head_len])
    _move(head, [rng.uniform(0.0, 0.01), 0.0, handle_len + head_len / 2 - 0.01])
    return assemble([Part("handle", handle, HOLD), Part("head", head, NO_HOLD)])


# --------------------------------------------------------------------------- cookware

def _cup_profile(r_bottom: float, r_top: float, height: float, fillet: float, n: int = 6) -> np.ndarray:
    z = np.linspace(fillet, height, n)
    base = _arc((r_bottom - fillet, fillet), fillet, -np.pi / 2, 0.0, 4)
    return np.vstack([base, np.stack([r_bottom + (r_top - r_bottom) * z / height, z], 1)[1:]])


def _vessel(r_bottom: float, r_top: float, height: float, wall: float, floor: float):
    """(outer solid, cavity) of an open vessel: the cavity pokes through the rim."""
    fillet = min(0.006, 0.3 * r_bottom)
    outer = _revolve(_cup_profile(r_bottom, r_top, height, fillet), 0.0, height, sections=32)
    top = height + 0.01
    inner_r_bottom, inner_r_top = r_bottom - wall, r_top - wall + (r_top - r_bottom) * 0.01 / height
    cavity = _revolve(_cup_profile(inner_r_bottom, inner_r_top, top - floor, min(fillet, 0.3 * inner_r_bottom))
                      + [0.0, floor], floor, top, sections=32)
    return outer, cavity


def _side_handle(length: float, width: float, thickness: float, z: float, x: float, angle: float = 0.0):
    """A flat handle along +x from the rim at (x, z), tilted up by ``-angle`` about y, narrowing to 85 %."""
    handle = _slab(length, width, thickness, min(0.005, width / 3), 0.85)
    handle = _rotate(handle, angle, [0, 1, 0])
    return _move(handle, [x, 0.0, z])


def make_frying_pan(rng: np.random.Generator) -> PartedObject:
    """Frying pan: shallow pan 14-24 cm across, 3-6 cm deep, and a long handle (held there, never by the pan)."""
    radius = rng.uniform(0.07, 0.12)
    height = rng.uniform(0.03, 0.06)
    outer, cavity = _vessel(radius * 0.85, radius, height, rng.uniform(0.003, 0.005), rng.uniform(0.004, 0.006))
    handle_len = rng.uniform(0.12, 0.16)
    handle = _side_handle(handle_len, rng.uniform(0.022, 0.032), rng.uniform(0.008, 0.014), height * 0.75,
                          radius - 0.01, -rng.uniform(0.05, 0.25))
    return assemble([Part("pan", outer, NO_HOLD), Part("handle", handle, HOLD)], subtract=[cavity])


def make_saucepan(rng: np.random.Generator) -> PartedObject:
    """Saucepan or pot 12-22 cm across: one long handle, or two loop handles on the sides."""
    radius = rng.uniform(0.06, 0.11)
    height = rng.uniform(0.07, 0.14)
    outer, cavity = _vessel(radius, radius * rng.uniform(1.0, 1.06), height, 0.004, 0.005)
    if rng.random() < 0.5:
        handles = [_side_handle(rng.uniform(0.12, 0.18), 0.026, 0.012, height * 0.85, radius - 0.008,
                                -rng.uniform(0.05, 0.2))]
    else:
        handles = []
        major, minor = rng.uniform(0.018, 0.026), rng.uniform(0.004, 0.006)
        for side in (1.0, -1.0):
            loop = _torus(major, minor, n_u=24, n_v=10)
            loop.apply_scale([1.0, 1.6, 1.0])
            # the loop's inner edge sinks half a wall deep into the pot, never into the cavity
            _move(loop, [side * (radius + major + minor - 0.002), 0.0, height * 0.8])
            handles.append(loop)
    return assemble([Part("pot", outer, NO_HOLD)] + [Part("handle", h, HOLD) for h in handles], subtract=[cavity])


def _loop_handle(major: float, minor: float, minor_scale, x: float, z: float, n_u: int = 32, stretch: float = 1.0):
    """A loop handle in the xz plane (a torus, stretched ``stretch`` times along z) centred at (x, 0, z)."""
    handle = _torus(major, minor, n_u=n_u, n_v=12, minor_scale=minor_scale)
    if stretch != 1.0:
        handle.apply_scale([1.0, 1.0, stretch])
    _rotate(handle, np.pi / 2, [1, 0, 0])
    return _move(handle, [x, 0.0, z])


def make_mug_v2(rng: np.random.Generator) -> PartedObject:
    """Mug or cup 7-13 cm tall with a loop handle: held by the handle or the body."""
    height = rng.uniform(0.07, 0.13)
    r_bottom = rng.uniform(0.028, 0.05)
    outer, cavity = _vessel(r_bottom, r_bottom * rng.uniform(0.95, 1.2), height, rng.uniform(0.004, 0.007),
                            rng.uniform(0.005, 0.01))
    major = height * rng.uniform(0.22, 0.32)
    minor, squash = rng.uniform(0.004, 0.007), rng.uniform(0.6, 1.0)
    z = height * rng.uniform(0.45, 0.55)
    handle = _loop_handle(major, minor, (squash, 1.0), r_bottom * 1.05 + major * rng.uniform(0.1, 0.35), z)
    return assemble([Part("body", outer, HOLD), Part("handle", handle, HOLD)], subtract=[cavity])


def make_glass(rng: np.random.Generator) -> PartedObject:
    """Drinking glass 8-15 cm (a tumbler), or a stemmed glass 14-22 cm (held by the stem or the bowl)."""
    if rng.random() < 0.5:
        height = rng.uniform(0.08, 0.15)
        r = rng.uniform(0.028, 0.042)
        outer, cavity = _vessel(r * rng.uniform(0.75, 1.0), r, height, 0.003, 0.006)
        return assemble([Part("body", outer, HOLD)], subtract=[cavity])
    base_r, stem_r = rng.uniform(0.03, 0.04), rng.uniform(0.004, 0.006)
    stem_len, bowl_h = rng.uniform(0.06, 0.1), rng.uniform(0.06, 0.1)
    bowl_r = rng.uniform(0.035, 0.05)
    base = _revolve([[base_r, 0.0], [base_r, 0.004], [stem_r * 2, 0.008]], 0.0, 0.009, sections=32)
    stem = _tube(stem_r, 0.006, 0.008 + stem_len, sections=16)
    z0 = 0.006 + stem_len
    outer, cavity = _vessel(bowl_r * rng.uniform(0.35, 0.55), bowl_r, bowl_h, 0.003, 0.012)
    bowl = Part("bowl", _move(outer, [0, 0, z0]), HOLD)
    return assemble([Part("base", base, NO_HOLD), Part("stem", stem, HOLD), bowl], subtract=[_move(cavity, [0, 0, z0])])


# --------------------------------------------------------------------------- containers

def make_jar(rng: np.random.Generator) -> PartedObject:
    """Jar or tin 6-18 cm tall with a screw lid slightly wider than the body."""
    height = rng.uniform(0.06, 0.18)
    r = rng.uniform(0.03, 0.06)
    lid_h = rng.uniform(0.012, 0.025)
    body = _revolve(_cup_profile(r, r, height - lid_h, min(0.008, r * 0.3)), 0.0, height - lid_h, sections=32)
    lid = _tube(r * rng.uniform(1.0, 1.06), height - lid_h - 0.002, height, sections=32)
    return assemble([Part("body", body, HOLD), Part("lid", lid, HOLD)])


def make_can(rng: np.random.Generator) -> PartedObject:
    """Drink or food can 7-18 cm tall, 5.3-10 cm across, with rims."""
    r = rng.uniform(0.0265, 0.05)
    height = rng.uniform(max(0.07, 1.1 * r), 0.18)
    rim = 0.003
    profile = [[r * 0.92, 0.0], [r, 0.006], [r, height - 0.008], [r * 0.94, height - rim], [r * 0.94, height]]
    return assemble([Part("body", _revolve(profile, 0.0, height, sections=36), HOLD)])


def make_bottle_v2(rng: np.random.Generator) -> PartedObject:
    """Bottle 15-32 cm: body (held), shoulder and neck, and a cap."""
    height = rng.uniform(0.15, 0.32)
    r = rng.uniform(0.025, 0.05)
    neck_r = rng.uniform(0.011, 0.016)
    body_top = height * rng.uniform(0.55, 0.72)
    neck_bottom = body_top + rng.uniform(0.02, 0.06)
    cap_h = rng.uniform(0.015, 0.025)
    fillet = min(0.008, r * 0.3)
    z = np.linspace(fillet, body_top, 5)
    profile = np.vstack([_arc((r - fillet, fillet), fillet, -np.pi / 2, 0.0, 4), np.stack([np.full(5, r), z], 1)[1:],
                         [[neck_r + (r - neck_r) * 0.3, (body_top + neck_bottom) / 2], [neck_r, neck_bottom],
                          [neck_r, height - cap_h + 0.002]]])
    body = _revolve(profile, 0.0, height - cap_h + 0.002, sections=32)
    cap = _tube(neck_r * rng.uniform(1.1, 1.3), height - cap_h, height, sections=24)
    return assemble([Part("body", body, HOLD), Part("cap", cap, NO_HOLD)])


# --------------------------------------------------------------------------- boxes, devices, balls, toys

def make_box_v2(rng: np.random.Generator) -> PartedObject:
    """Boxes of every aspect: cubes 5-15 cm, cereal boxes 20-30 cm, flat packs 1-4 cm thick, long bars."""
    kind = rng.choice(["cube", "tall", "flat", "bar"])
    if kind == "cube":
        extents = rng.uniform(0.05, 0.15, 3) * [1.0, rng.uniform(0.8, 1.0), rng.uniform(0.8, 1.2)]
    elif kind == "tall":
        extents = [rng.uniform(0.14, 0.22), rng.uniform(0.04, 0.08), rng.uniform(0.2, 0.3)]
    elif kind == "flat":
        extents = [rng.uniform(0.1, 0.25), rng.uniform(0.08, 0.2), rng.uniform(0.01, 0.04)]
    else:
        extents = [rng.uniform(0.03, 0.06), rng.uniform(0.03, 0.06), rng.uniform(0.15, 0.3)]
    box = trimesh.creation.box(extents=np.minimum(extents, 0.3))
    return assemble([Part("body", _finish(box), HOLD)])


def make_phone(rng: np.random.Generator) -> PartedObject:
    """Phone, remote control or game controller-sized slab 10-20 cm, 7-16 mm thick, rounded corners."""
    length = rng.uniform(0.10, 0.20)
    width = rng.uniform(0.04, 0.08)
    body = _slab(length, width, rng.uniform(0.007, 0.016), rng.uniform(0.004, 0.012), rng.uniform(0.8, 1.0))
    return assemble([Part("body", body, HOLD)])


def make_ball(rng: np.random.Generator) -> PartedObject:
    """Ball 4-25 cm across (golf ball to football)."""
    ball = trimesh.creation.icosphere(subdivisions=3, radius=rng.uniform(0.02, 0.125))
    return assemble([Part("body", _finish(ball), HOLD)])


def make_toy(rng: np.random.Generator) -> PartedObject:
    """Organic toy or figurine 6-20 cm: a body with a head and two limbs, blended ellipsoids."""
    size = rng.uniform(0.06, 0.2)
    blobs = []
    for centre, radii in (([0, 0, 0.35], [0.22, 0.18, 0.3]), ([0, 0, 0.8], [0.18, 0.17, 0.18]),
                          ([0.2, 0, 0.45], [0.08, 0.08, 0.2]), ([-0.2, 0, 0.45], [0.08, 0.08, 0.2])):
        blob = trimesh.creation.icosphere(subdivisions=2, radius=1.0)
        blob.apply_scale(np.array(radii) * size * rng.uniform(0.85, 1.15, 3))
        blobs.append(_move(blob, np.array(centre) * size))
    return assemble([Part("body", _boolean("union", blobs), HOLD)])


def make_kettle(rng: np.random.Generator) -> PartedObject:
    """Kettle or teapot 15-25 cm: a closed body (hot: not held), a loop handle over or beside it, and a spout."""
    height = rng.uniform(0.12, 0.2)
    r = rng.uniform(0.06, 0.09)
    fillet = 0.012
    profile = np.vstack([_arc((r - fillet, fillet), fillet, -np.pi / 2, 0.0, 4),
                         [[r, height * 0.6], [r * 0.7, height * 0.95], [r * 0.35, height]]])
    body = _revolve(profile, 0.0, height, sections=32)
    major = rng.uniform(0.045, 0.065)
    handle = _torus(major, rng.uniform(0.007, 0.01), n_u=32, n_v=12)
    _rotate(handle, np.pi / 2, [1, 0, 0])
    if rng.random() < 0.5:  # beside the body, like a mug's
        _move(handle, [r + major * 0.55, 0.0, height * 0.55])
    else:  # over the top
        _rotate(handle, np.pi / 2, [0, 0, 1])
        _move(handle, [0.0, 0.0, height * 0.95])
    spout = _tube(rng.uniform(0.008, 0.012), 0.0, rng.uniform(0.07, 0.1), sections=16)
    _rotate(spout, np.pi / 2 - rng.uniform(0.4, 0.8), [0, 1, 0])
    _move(spout, [-r * 0.7, 0.0, height * 0.35])
    return assemble([Part("body", body, NO_HOLD), Part("handle", handle, HOLD), Part("spout", spout, NO_HOLD)])


def make_flashlight(rng: np.random.Generator) -> PartedObject:
    """Flashlight, marker or rolling pin-like rod 12-30 cm: a barrel held anywhere, a wider head at one end."""
    length = rng.uniform(0.12, 0.3)
    r = rng.uniform(0.01, 0.022)
    head_r, head_len = r * rng.uniform(1.1, 1.6), rng.uniform(0.025, 0.05)
    barrel = _tube(r, 0.0, length - head_len + 0.005, sections=24)
    head = _revolve([[r, length - head_len], [head_r, length - head_len * 0.4], [head_r, length]],
                    length - head_len, length, sections=24)
    return assemble([Part("barrel", barrel, HOLD), Part("head", head, HOLD)])


def make_bat(rng: np.random.Generator) -> PartedObject:
    """Bat, club or racket 25-40 cm: a thin handle (held) widening into a barrel or a flat head (not held)."""
    handle_len = rng.uniform(0.1, 0.16)
    r = rng.uniform(0.011, 0.016)
    handle = _grip(r, handle_len, 0.0)
    if rng.random() < 0.5:  # bat: a barrel
        head_len, head_r = rng.uniform(0.14, 0.22), rng.uniform(0.025, 0.035)
        z0 = handle_len - 2 * r  # starts inside the grip's straight part: no near-tangent cut at its round end
        head = _revolve([[r * 0.8, z0 + 0.002], [head_r, handle_len + head_len * 0.4],
                         [head_r, handle_len + head_len - head_r * 0.5]], z0, handle_len + head_len, sections=21)
    else:  # racket / paddle: a flat oval head
        head = trimesh.creation.icosphere(subdivisions=3, radius=1.0)
        a = rng.uniform(0.07, 0.11)
        head.apply_scale([rng.uniform(0.008, 0.014), a * rng.uniform(0.75, 0.95), a])
        _move(head, [0.0, 0.0, handle_len + a * 0.95])
    return assemble([Part("handle", handle, HOLD), Part("head", head, NO_HOLD)])


def make_dish(rng: np.random.Generator) -> PartedObject:
    """Plate 15-28 cm across or bowl 10-20 cm: held at the rim or underneath."""
    if rng.random() < 0.5:
        r, height = rng.uniform(0.075, 0.14), rng.uniform(0.015, 0.03)
        outer, cavity = _vessel(r * rng.uniform(0.5, 0.7), r, height, 0.004, 0.006)
    else:
        r, height = rng.uniform(0.05, 0.1), rng.uniform(0.04, 0.08)
        outer, cavity = _vessel(r * rng.uniform(0.45, 0.65), r, height, 0.004, 0.006)
    return assemble([Part("body", outer, HOLD)], subtract=[cavity])


def make_ring(rng: np.random.Generator) -> PartedObject:
    """Ring, tape roll, bracelet or donut: major radius 2-8 cm, tube 4-30 mm."""
    major = rng.uniform(0.02, 0.08)
    minor = min(rng.uniform(0.004, 0.03), major * 0.6)
    ring = _torus(major, minor, n_u=40, n_v=16, minor_scale=(1.0, rng.uniform(0.6, 2.0)))
    return assemble([Part("body", ring, HOLD)])


def make_spray_bottle(rng: np.random.Generator) -> PartedObject:
    """Spray bottle 18-28 cm: body held, a trigger head on a neck."""
    height = rng.uniform(0.13, 0.2)
    r = rng.uniform(0.03, 0.045)
    body = _revolve(_cup_profile(r, r * rng.uniform(0.85, 1.0), height, 0.01), 0.0, height, sections=32)
    neck = _tube(0.013, height - 0.005, height + 0.02, sections=16)
    head = trimesh.creation.box(extents=[rng.uniform(0.06, 0.08), 0.03, rng.uniform(0.04, 0.06)])
    _move(head, [-0.01, 0.0, height + 0.04])
    trigger = trimesh.creation.box(extents=[0.012, 0.018, 0.035])
    _move(trigger, [-0.035, 0.0, height + 0.005])
    return assemble([Part("body", body, HOLD), Part("neck", neck, HOLD), Part("head", head, NO_HOLD),
                     Part("trigger", trigger, HOLD)])


# --------------------------------------------------------------------------- more tools, tableware, food

def make_wrench(rng: np.random.Generator) -> PartedObject:
    """Spanner 12-30 cm: a flat shaft (held) with an open jaw at one end and a ring at the other (not held)."""
    length = rng.uniform(0.12, 0.30)
    width, thickness = length * rng.uniform(0.08, 0.11), rng.uniform(0.004, 0.008)
    shaft = _rotate(_slab(length, width, thickness, width / 3), -np.pi / 2, [0, 1, 0])  # along +z
    head_r = width * rng.uniform(0.9, 1.2)
    jaw = _rotate(_tube(head_r, -thickness * 0.6, thickness * 0.6, sections=24), np.pi / 2, [0, 1, 0])  # flat in yz
    gap = trimesh.creation.box(extents=[thickness * 4, head_r * 0.9, head_r * 2])
    jaw = _boolean("difference", [_move(jaw, [0.0, 0.0, length]), _move(gap, [0.0, 0.0, length + head_r * 0.6])])
    ring = _torus(head_r * 0.7, head_r * 0.3, n_u=28, n_v=10, minor_scale=(1.0, thickness / (head_r * 0.6)))
    ring = _rotate(ring, np.pi / 2, [0, 1, 0])  # flat in yz like the shaft
    return assemble([Part("shaft", shaft, HOLD), Part("jaw", jaw, NO_HOLD), Part("ring", ring, NO_HOLD)])


def make_cutlery(rng: np.random.Generator) -> PartedObject:
    """Fork, spoon or table knife 15-24 cm: a flat handle (held) and tines, a bowl or a blade (not held)."""
    handle_len = rng.uniform(0.09, 0.13)
    width, thickness = rng.uniform(0.012, 0.02), rng.uniform(0.003, 0.005)
    handle = _rotate(_slab(handle_len, width, thickness, width / 3, rng.uniform(0.45, 0.7)), -np.pi / 2, [0, 1, 0])
    kind = rng.integers(3)
    z0 = handle_len - 0.005
    if kind == 0:  # fork: a neck widening into a head with four tines
        head_w, tine_len = rng.uniform(0.022, 0.028), rng.uniform(0.03, 0.045)
        pieces = [_move(trimesh.creation.box(extents=[0.002, head_w, 0.02]), [0.0, 0.0, z0 + 0.01])]
        for k in range(4):
            tine = trimesh.creation.box(extents=[0.002, head_w / 7, tine_len])
            pieces.append(_move(tine, [0.0, (k - 1.5) * head_w * 2 / 7, z0 + 0.018 + tine_len / 2]))
        head, name = _boolean("union", pieces), "tines"
    elif kind == 1:  # spoon bowl
        a = rng.uniform(0.02, 0.03)
        head = trimesh.creation.icosphere(subdivisions=3, radius=1.0)
        head.apply_scale([rng.uniform(0.006, 0.01), a * rng.uniform(0.65, 0.8), a])
        head, name = _move(head, [0.0, 0.0, z0 + a * 0.85]), "bowl"
    else:  # table knife blade
        blade = _slab(rng.uniform(0.08, 0.11), rng.uniform(0.014, 0.02), 0.002, 0.006, 0.7)
        head, name = _move(_rotate(blade, -np.pi / 2, [0, 1, 0]), [0.0, 0.0, z0]), "blade"
    return assemble([Part("handle", handle, HOLD), Part(name, head, NO_HOLD)])


def make_pitcher(rng: np.random.Generator) -> PartedObject:
    """Jug or pitcher 15-25 cm tall, 9-15 cm across, with a tall loop handle: held by the handle or the body."""
    height = rng.uniform(0.15, 0.25)
    r_bottom = rng.uniform(0.045, 0.075)
    outer, cavity = _vessel(r_bottom, r_bottom * rng.uniform(0.85, 1.1), height, rng.uniform(0.004, 0.006),
                            rng.uniform(0.006, 0.01))
    major = height * rng.uniform(0.25, 0.32)
    minor, squash, stretch = rng.uniform(0.006, 0.009), rng.uniform(0.7, 1.0), rng.uniform(1.2, 1.5)
    handle = _loop_handle(major, minor, (squash, 1.4), r_bottom * 1.0 + major * 0.35,
                          height * rng.uniform(0.5, 0.6), n_u=36, stretch=stretch)  # taller than wide
    return assemble([Part("body", outer, HOLD), Part("handle", handle, HOLD)], subtract=[cavity])


def make_fruit(rng: np.random.Generator) -> PartedObject:
    """Fruit and vegetables 5-22 cm: apple or orange (round), pear, lemon, banana (a bent tapered tube), held anywhere."""
    kind = rng.integers(4)
    if kind == 3:  # banana: a tapered tube bent along an arc
        length, radius = rng.uniform(0.14, 0.22), rng.uniform(0.016, 0.022)
        bend = rng.uniform(0.6, 1.1)  # radians over the length
        t = np.linspace(0, 1, 16)
        rings, n_seg = [], 14
        ang = np.linspace(0, 2 * np.pi, n_seg, endpoint=False)
        arc_r = length / bend
        for u in t:
            a = (u - 0.5) * bend
            centre = np.array([arc_r * (1 - np.cos(a)), 0.0, arc_r * np.sin(a)])
            tangent = np.array([np.sin(a), 0.0, np.cos(a)])
            normal = np.array([np.cos(a), 0.0, -np.sin(a)])
            r = radius * (0.35 + 0.65 * np.sin(np.pi * u) ** 0.5)
            ring = centre + r * (np.cos(ang)[:, None] * normal + np.sin(ang)[:, None] * np.array([0.0, 1.0, 0.0]))
            rings.append(ring)
            del tangent
        from .procedural import _closed_grid

        rings = np.array(rings)
        body = _closed_grid(rings[1:-1], rings[0].mean(0), rings[-1].mean(0))
        return assemble([Part("body", _finish(body), HOLD)])
    size = rng.uniform(0.05, 0.12) if kind < 2 else rng.uniform(0.07, 0.13)
    if kind == 0:  # apple / orange / melon-ish sphere, slightly squashed
        body = trimesh.creation.icosphere(subdivisions=3, radius=size / 2)
        body.apply_scale([1.0, rng.uniform(0.92, 1.0), rng.uniform(0.85, 1.0)])
    elif kind == 1:  # lemon: an elongated ellipsoid with pointed ends
        body = trimesh.creation.icosphere(subdivisions=3, radius=1.0)
        v = body.vertices
        v[:, 2] *= 1.0 + 0.25 * np.clip(np.abs(v[:, 2]) - 0.7, 0, None) / 0.3
        body.apply_scale([size * 0.35, size * 0.35, size * 0.5])
    else:  # pear: a small sphere on a bigger one
        low = trimesh.creation.icosphere(subdivisions=3, radius=size * 0.33)
        high = trimesh.creation.icosphere(subdivisions=2, radius=size * 0.22)  # turned: no coincident vertices
        high = _move(_rotate(high, 0.3, [1, 1, 0]), [0.0, 0.0, size * 0.38])
        return assemble([Part("body", _boolean("union", [low, high]), HOLD)])
    return assemble([Part("body", _finish(body), HOLD)])


FAMILIES: dict[str, Callable[[np.random.Generator], PartedObject]] = {
    "kitchen_knife": make_kitchen_knife,
    "hammer": make_hammer,
    "screwdriver": make_screwdriver,
    "spatula": make_spatula,
    "brush": make_brush,
    "frying_pan": make_frying_pan,
    "saucepan": make_saucepan,
    "mug_v2": make_mug_v2,
    "glass": make_glass,
    "jar": make_jar,
    "can": make_can,
    "bottle_v2": make_bottle_v2,
    "box_v2": make_box_v2,
    "phone": make_phone,
    "ball": make_ball,
    "toy": make_toy,
    "kettle": make_kettle,
    "flashlight": make_flashlight,
    "bat": make_bat,
    "dish": make_dish,
    "ring": make_ring,
    "spray_bottle": make_spray_bottle,
    "wrench": make_wrench,
    "cutlery": make_cutlery,
    "pitcher": make_pitcher,
    "fruit": make_fruit,
}


def make_everyday(family: str, seed: int) -> PartedObject:
    """The object of ``family`` drawn from ``numpy.random.default_rng(seed)``: same seed, same object."""
    if family not in FAMILIES:
        raise ValueError(f"unknown everyday family '{family}'; known: {', '.join(FAMILIES)}")
    return FAMILIES[family](np.random.default_rng(seed))


HOLD_RGB, NO_HOLD_RGB = (0.35, 0.75, 0.4), (0.85, 0.35, 0.3)


def render_family_sheet(out, seeds: int = 4) -> None:
    """One row per family, ``seeds`` objects each, hold parts green and the others red (z up on screen)."""
    from jhod_core.viz import look_rotation, render_sheet

    panels = []
    for family in FAMILIES:
        for seed in range(seeds):
            obj = make_everyday(family, seed)
            verts = np.asarray(obj.mesh.vertices) @ np.array([[1, 0, 0], [0, 0, 1], [0, -1, 0]]).T  # z up -> y up
            meshes = [(verts, np.asarray(obj.mesh.faces)[obj.face_part == k], HOLD_RGB if hold else NO_HOLD_RGB)
                      for k, hold in enumerate(obj.part_hold) if (obj.face_part == k).any()]
            size = np.ptp(obj.mesh.vertices, axis=0).max() * 100
            panels.append((meshes, look_rotation(20, 35), f"{family} {seed} ({size:.0f} cm)"))
    render_sheet(panels, out, cols=seeds, cell=2.2,
                 title="Everyday families (training.data.everyday): green = held there, red = not")


if __name__ == "__main__":
    import sys

    render_family_sheet(sys.argv[1] if len(sys.argv) > 1 else "docs/images/everyday_families.png")
