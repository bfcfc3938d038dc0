"""Seeded generators of hand-graspable object meshes (procedural families of the object corpus).

Every ``make_<family>(rng)`` draws size and proportions from ``rng`` (a ``numpy.random.Generator``)
and returns a watertight ``trimesh.Trimesh`` with outward normals (positive volume), in metres,
whose longest bounding-box side lies in [``MIN_SIZE``, ``MAX_SIZE``] (3..30 cm), with at most
``MAX_FACES`` faces. Objects stand along +z; they are not centred (the corpus centres them).

Watertightness comes from construction, not from repair:

* surfaces of revolution, superquadrics and tori are closed lat-long grids (``_revolve``,
  ``_closed_grid``, ``_torus_grid``): every edge is shared by exactly two faces by design;
* boxes, plates and rounded corners are convex hulls (closed, consistently wound);
* mugs and tools are booleans of such solids with manifold3d, whose output is a manifold.

``make_object(family, seed)`` is the seeded entry point; ``FAMILIES`` lists the families.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import trimesh

MIN_SIZE, MAX_SIZE = 0.03, 0.30  # longest bounding-box side, metres
MAX_FACES = 5000
SECTIONS = 28  # segments around the axis of surfaces of revolution


# --------------------------------------------------------------------------- construction helpers

def _finish(mesh: trimesh.Trimesh) -> trimesh.Trimesh:
    """Weld vertices and make the volume positive (outward normals) of a closed mesh."""
    mesh = trimesh.Trimesh(mesh.vertices, mesh.faces, process=True)
    if mesh.volume < 0:
        mesh.invert()
    return mesh


def _closed_grid(rings: np.ndarray, bottom: np.ndarray, top: np.ndarray) -> trimesh.Trimesh:
    """Sphere-topology mesh from rings (n_rings, n_seg, 3), stacked bottom to top between two poles.

    Each ring must run counter-clockwise seen from +z for outward normals; ``_finish`` repairs the
    orientation anyway.
    """
    n_rings, n_seg, _ = rings.shape
    vertices = np.vstack([bottom[None], rings.reshape(-1, 3), top[None]])
    idx = 1 + np.arange(n_rings * n_seg).reshape(n_rings, n_seg)
    nxt = np.roll(idx, -1, axis=1)
    a, b, c, d = idx[:-1], nxt[:-1], nxt[1:], idx[1:]
    faces = np.vstack([
        np.stack([np.zeros(n_seg, int), nxt[0], idx[0]], axis=1),           # bottom fan
        np.stack([a, b, c], axis=-1).reshape(-1, 3),                         # side quads
        np.stack([a, c, d], axis=-1).reshape(-1, 3),
        np.stack([np.full(n_seg, len(vertices) - 1), idx[-1], nxt[-1]], axis=1),  # top fan
    ])
    return _finish(trimesh.Trimesh(vertices, faces, process=False))


def _revolve(profile: np.ndarray, z_bottom: float, z_top: float, sections: int = SECTIONS) -> trimesh.Trimesh:
    """Closed solid of revolution about z from a profile of (r > 0, z) points, bottom to top.

    The profile is closed by the axis points (0, z_bottom) and (0, z_top).
    """
    profile = np.asarray(profile, dtype=np.float64)
    if (profile[:, 0] <= 0).any():
        raise ValueError("profile radii must be positive (the axis points are added by _revolve)")
    theta = np.linspace(0.0, 2 * np.pi, sections, endpoint=False)
    r, z = profile[:, :1], profile[:, 1:]
    rings = np.stack([r * np.cos(theta), r * np.sin(theta), z + 0.0 * theta], axis=-1)
    return _closed_grid(rings, np.array([0.0, 0.0, z_bottom]), np.array([0.0, 0.0, z_top]))


def _torus_grid(points: np.ndarray) -> trimesh.Trimesh:
    """Closed torus-topology mesh from a grid (n_u, n_v, 3) periodic in both directions."""
    n_u, n_v, _ = points.shape
    idx = np.arange(n_u * n_v).reshape(n_u, n_v)
    i1, j1 = np.roll(idx, -1, axis=0), np.roll(idx, -1, axis=1)
    ij1 = np.roll(i1, -1, axis=1)
    faces = np.vstack([np.stack([idx, i1, ij1], -1).reshape(-1, 3), np.stack([idx, ij1, j1], -1).reshape(-1, 3)])
    return _finish(trimesh.Trimesh(points.reshape(-1, 3), faces, process=False))


def _torus(major: float, minor: float, n_u: int = 32, n_v: int = 12, minor_scale=(1.0, 1.0)) -> trimesh.Trimesh:
    """Torus in the xy plane around z; ``minor_scale`` stretches the tube section (radial, z)."""
    u = np.linspace(0, 2 * np.pi, n_u, endpoint=False)[:, None]
    v = np.linspace(0, 2 * np.pi, n_v, endpoint=False)[None, :]
    radial = major + minor * minor_scale[0] * np.cos(v)
    height = minor * minor_scale[1] * np.sin(v) + 0.0 * u
    points = np.stack([radial * np.cos(u), radial * np.sin(u), height], -1)
    return _torus_grid(points)


def _arc(centre, radius: float, start: float, stop: float, n: int) -> np.ndarray:
    """n points (r, z) on a circle arc from angle ``start`` to ``stop`` (radians, from +r)."""
    t = np.linspace(start, stop, n)
    return np.stack([centre[0] + radius * np.cos(t), centre[1] + radius * np.sin(t)], axis=1)


def _hull(points: np.ndarray) -> trimesh.Trimesh:
    return _finish(trimesh.convex.convex_hull(np.asarray(points, dtype=np.float64)))


def _boolean(kind: str, meshes: list[trimesh.Trimesh]) -> trimesh.Trimesh:
    """Union/difference with manifold3d: its result is a manifold (watertight) by construction."""
    op = trimesh.boolean.union if kind == "union" else trimesh.boolean.difference
    return _finish(op(meshes, engine="manifold"))


def _move(mesh: trimesh.Trimesh, xyz) -> trimesh.Trimesh:
    mesh.apply_translation(xyz)
    return mesh


def _signed_pow(x: np.ndarray, e: float) -> np.ndarray:
    return np.sign(x) * np.abs(x) ** e


# --------------------------------------------------------------------------- families

def make_box(rng: np.random.Generator) -> trimesh.Trimesh:
    """Box 4-22 cm long, with sharp, bevelled (chamfered) or rounded edges."""
    length = rng.uniform(0.04, 0.22)
    others = np.maximum(0.015, length * rng.uniform([0.25, 0.15], 1.0))
    extents = rng.permutation([length, *others])
    style = rng.choice(["sharp", "bevel", "rounded"])
    if style == "sharp":
        return _finish(trimesh.creation.box(extents=extents))
    edge = rng.uniform(0.1, 0.3) * extents.min()  # bevel width / rounding radius
    corners = np.array(np.meshgrid([-1, 1], [-1, 1], [-1, 1], indexing="ij")).reshape(3, -1).T * extents / 2
    if style == "bevel":
        points = [c - edge * np.sign(c) * np.eye(3)[k] for c in corners for k in range(3)]
    else:
        ball = trimesh.creation.icosphere(subdivisions=2, radius=edge).vertices
        points = [c - edge * np.sign(c) + ball for c in corners]
    return _hull(np.vstack(points))


def make_cylinder(rng: np.random.Generator) -> trimesh.Trimesh:
    """Cylinder, radius 1.2-5 cm, height 3-25 cm (cans, bars, jars)."""
    radius, height = rng.uniform(0.012, 0.05), rng.uniform(0.03, 0.25)
    return _revolve([[radius, 0.0], [radius, height]], 0.0, height, sections=40)


def make_ellipsoid(rng: np.random.Generator) -> trimesh.Trimesh:
    """Sphere (1 in 4) or ellipsoid, longest semi-axis 1.5-10 cm (balls, eggs, fruit)."""
    a = rng.uniform(0.015, 0.10)
    ratios = [1.0, 1.0] if rng.random() < 0.25 else rng.uniform(0.4, 1.0, size=2)
    mesh = trimesh.creation.icosphere(subdivisions=3, radius=1.0)
    mesh.apply_scale(rng.permutation([a, a * ratios[0], a * ratios[1]]))
    return _finish(mesh)


def make_superquadric(rng: np.random.Generator) -> trimesh.Trimesh:
    """Superquadric with semi-axes 1.5-8 cm and shape exponents 0.25-1.9 (boxy ... pinched).

    The exponents are log-uniform, so boxy shapes (< 1) are as common as round-to-pinched ones;
    uniform exponents made most of them look like the ellipsoid family.
    """
    a, b, c = rng.uniform(0.015, 0.08, size=3)
    e1, e2 = np.exp(rng.uniform(np.log(0.25), np.log(1.9), size=2))
    n_lat, n_lon = 18, 24
    eta = np.linspace(-np.pi / 2, np.pi / 2, n_lat + 2)[1:-1, None]  # poles added separately
    omega = np.linspace(-np.pi, np.pi, n_lon, endpoint=False)[None, :]
    ce, se = _signed_pow(np.cos(eta), e1), _signed_pow(np.sin(eta), e1)
    rings = np.stack([a * ce * _signed_pow(np.cos(omega), e2), b * ce * _signed_pow(np.sin(omega), e2),
                      np.broadcast_to(c * se, (n_lat, n_lon))], axis=-1)
    return _closed_grid(rings, np.array([0.0, 0.0, -c]), np.array([0.0, 0.0, c]))


def make_torus(rng: np.random.Generator) -> trimesh.Trimesh:
    """Torus (rings, donuts, tape rolls): major radius 2-10 cm, tube 15-50 % of it (>= 5 mm)."""
    major = rng.uniform(0.02, 0.10)
    minor = min(max(0.005, major * rng.uniform(0.15, 0.5)), 0.6 * major)
    return _torus(major, minor, minor_scale=(1.0, rng.uniform(0.7, 1.5)))


def make_bottle(rng: np.random.Generator) -> trimesh.Trimesh:
    """Bottle 12-30 cm tall from a random profile: rounded base, body, shoulder, neck and lip."""
    height = rng.uniform(0.12, 0.30)
    r_body = rng.uniform(0.022, 0.045)
    r_neck = min(rng.uniform(0.009, 0.016), 0.6 * r_body)
    r_lip = r_neck + rng.uniform(0.001, 0.003)
    h_lip = rng.uniform(0.003, 0.008)
    h_body = height * rng.uniform(0.45, 0.65)
    h_shoulder = height * rng.uniform(0.10, 0.20)
    fillet = rng.uniform(0.15, 0.35) * r_body
    bulge = rng.uniform(-0.08, 0.08)  # waisted (<0) or barrel-shaped (>0) body

    base = _arc((r_body - fillet, fillet), fillet, -np.pi / 2, 0.0, 5)
    z_body = np.linspace(fillet, h_body, 6)[1:]
    body = np.stack([r_body * (1 + bulge * np.sin(np.pi * (z_body - fillet) / (h_body - fillet))), z_body], 1)
    s = np.linspace(0, 1, 8)[1:]
    shoulder = np.stack([r_neck + (r_body - r_neck) * (1 + np.cos(np.pi * s)) / 2, h_body + s * h_shoulder], 1)
    neck_top = height - h_lip
    neck = np.stack([np.full(2, r_neck), np.linspace(h_body + h_shoulder, neck_top, 3)[1:]], 1)
    lip = [[r_lip, neck_top], [r_lip, height - 0.0015], [r_lip - 0.0015, height]]
    profile = np.vstack([base, body, shoulder, neck, lip])
    return _revolve(profile, 0.0, height)


def make_mug(rng: np.random.Generator) -> trimesh.Trimesh:
    """Mug: hollow cup (walls 4-7 mm) 7-12 cm tall, plus a torus-section handle, as one solid.

    Built as (outer body U handle torus) - cavity: the part of the torus inside the wall merges
    into it and the part inside the cavity is cut away, leaving a C-shaped handle.
    """
    height = rng.uniform(0.07, 0.12)
    r_bottom = rng.uniform(0.03, 0.048)
    r_top = r_bottom * rng.uniform(0.95, 1.15)
    wall, floor = rng.uniform(0.004, 0.007), rng.uniform(0.005, 0.010)
    fillet = rng.uniform(0.002, 0.006)

    def radius(z):
        return r_bottom + (r_top - r_bottom) * np.asarray(z) / height

    z = np.linspace(fillet, height, 6)
    base = _arc((r_bottom - fillet, fillet), fillet, -np.pi / 2, 0.0, 4)
    outer = np.vstack([base, np.stack([radius(z), z], 1)[1:]])
    body = _revolve(outer, 0.0, height)
    inner_fillet = min(fillet + 0.004, 0.5 * (r_bottom - wall))
    top = height + 0.01  # the cavity pokes through the rim so the cup is open
    z_in = np.linspace(floor + inner_fillet, top, 6)
    inner_base = _arc((r_bottom - wall - inner_fillet, floor + inner_fillet), inner_fillet, -np.pi / 2, 0.0, 4)
    inner = np.vstack([inner_base, np.stack([radius(z_in) - wall, z_in], 1)[1:]])
    cavity = _revolve(inner, floor, top)

    z_handle = height * rng.uniform(0.47, 0.55)
    major = height * rng.uniform(0.22, 0.32)
    minor = rng.uniform(0.004, 0.007)
    handle = _torus(major, minor, n_u=32, n_v=12, minor_scale=(rng.uniform(0.6, 1.0), 1.0))
    handle.apply_transform(trimesh.transformations.rotation_matrix(np.pi / 2, [1, 0, 0]))  # into the xz plane
    _move(handle, [float(radius(z_handle)) + major * rng.uniform(0.1, 0.35), 0.0, z_handle])
    return _boolean("difference", [_boolean("union", [body, handle]), cavity])


def _grip(radius: float, length: float, bulge: float, sections: int = 24) -> trimesh.Trimesh:
    """Tool handle along z from 0 to ``length``: hemispherical ends, gently bulging middle.

    The ends are round down to the axis (no flat cap): a shaft or blade pushed into a flat cap of
    about its own radius gives manifold3d near-coincident edges and sliver faces.
    """
    z = np.linspace(radius, length - radius, 10)
    side = np.stack([radius * (1 + bulge * np.sin(np.pi * (z - radius) / (length - 2 * radius))), z], 1)
    bottom = _arc((0.0, radius), radius, -np.pi / 2, 0.0, 6)[1:-1]  # drop the pole and side[0]
    top = _arc((0.0, length - radius), radius, 0.0, np.pi / 2, 6)[1:-1]
    return _revolve(np.vstack([bottom, side, top]), 0.0, length, sections=sections)


def make_tool_handle(rng: np.random.Generator) -> trimesh.Trimesh:
    """Tool handle (2-4 cm thick): a bare grip, or a hammer, screwdriver or knife built on one."""
    kind = rng.choice(["grip", "hammer", "screwdriver", "knife"])
    radius = rng.uniform(0.010, 0.018)
    bulge = rng.uniform(0.0, 0.15)
    if kind == "grip":
        grip = _grip(radius, rng.uniform(0.10, 0.25), bulge)
        grip.apply_scale([rng.uniform(0.7, 1.0), 1.0, 1.0])  # oval section
        return grip
    if kind == "hammer":
        length, side = rng.uniform(0.20, 0.28), rng.uniform(0.022, 0.032)
        head_len = rng.uniform(0.08, 0.13)
        grip = _grip(min(radius, 0.4 * side), length - side / 2, bulge)
        if rng.random() < 0.5:
            head = trimesh.creation.box(extents=[head_len, side, side])
        else:  # mallet: cylindrical head along x
            head = _revolve([[side / 2, -head_len / 2], [side / 2, head_len / 2]], -head_len / 2, head_len / 2)
            head.apply_transform(trimesh.transformations.rotation_matrix(np.pi / 2, [0, 1, 0]))
        return _boolean("union", [grip, _move(head, [0.0, 0.0, length - side / 2])])
    if kind == "screwdriver":
        grip_len = rng.uniform(0.08, 0.12)
        shaft_r, shaft_len = rng.uniform(0.002, 0.004), rng.uniform(0.05, 0.13)
        grip = _grip(radius, grip_len, bulge)
        z0 = grip_len - 0.01
        tip = rng.uniform(0.006, 0.012)
        shaft = _revolve([[shaft_r, z0], [shaft_r, z0 + shaft_len], [0.35 * shaft_r, z0 + shaft_len + tip]],
                         z0, z0 + shaft_len + tip, sections=12)
        # turn the shaft off the grip's vertex angles: aligned vertices give manifold3d slivers
        shaft.apply_transform(trimesh.transformations.rotation_matrix(rng.uniform(0.05, 0.2), [0, 0, 1]))
        return _boolean("union", [grip, shaft])
    # knife: oval handle + thin convex blade (spine straight, edge curving up to the tip)
    grip_len = rng.uniform(0.09, 0.13)
    grip = _grip(radius, grip_len, bulge * 0.5)
    grip.apply_scale([rng.uniform(0.45, 0.65), 1.0, 1.0])
    blade_len, width = rng.uniform(0.08, 0.16), rng.uniform(0.015, 0.035)
    thickness = rng.uniform(0.0015, 0.003)
    z0 = grip_len - 0.012
    t = np.linspace(0, np.pi / 2, 8)
    edge = np.stack([width / 2 - width * np.cos(t), z0 + blade_len * np.sin(t)], 1)  # (y, z) from heel to tip
    outline = np.vstack([[[width / 2, z0]], edge])
    sides = [np.column_stack([np.full(len(outline), x), outline]) for x in (-thickness / 2, thickness / 2)]
    blade = np.vstack(sides)
    return _boolean("union", [grip, _hull(blade)])


def make_plate(rng: np.random.Generator) -> trimesh.Trimesh:
    """Thin plate 3-15 mm thick, 6-26 cm long (books, phones, card stacks, boards), flat in xy."""
    thickness = rng.uniform(0.003, 0.015)
    length = rng.uniform(0.06, 0.26)
    width = max(0.04, length * rng.uniform(0.35, 0.9))
    corner = 0.0 if rng.random() < 0.3 else rng.uniform(0.002, 0.012)
    if corner == 0.0:
        return _finish(trimesh.creation.box(extents=[length, width, thickness]))
    theta = np.linspace(0, 2 * np.pi, 12, endpoint=False)
    circle = corner * np.stack([np.cos(theta), np.sin(theta)], 1)
    centres = np.array([[sx * (length / 2 - corner), sy * (width / 2 - corner)] for sx in (-1, 1) for sy in (-1, 1)])
    xy = (centres[:, None] + circle[None]).reshape(-1, 2)
    return _hull(np.vstack([np.column_stack([xy, np.full(len(xy), z)]) for z in (-thickness / 2, thickness / 2)]))


def make_cone(rng: np.random.Generator) -> trimesh.Trimesh:
    """Cone (about 1 in 3) or frustum: base radius 1.5-6 cm, height 3-20 cm (cups, funnels, lids)."""
    r_base, height = rng.uniform(0.015, 0.06), rng.uniform(0.03, 0.20)
    if rng.random() < 0.35:
        return _revolve([[r_base, 0.0]], 0.0, height, sections=40)  # apex is the top pole
    return _revolve([[r_base, 0.0], [r_base * rng.uniform(0.2, 0.9), height]], 0.0, height, sections=40)


def make_capsule(rng: np.random.Generator) -> trimesh.Trimesh:
    """Capsule: radius 0.8-4 cm, total length 3-28 cm (markers, rolling pins, pill bottles)."""
    radius = rng.uniform(0.008, 0.04)
    straight = rng.uniform(max(0.0, MIN_SIZE - 2 * radius), 0.20)
    n = 6
    bottom = _arc((0.0, radius), radius, -np.pi / 2, 0.0, n + 1)[1:]
    top = _arc((0.0, radius + straight), radius, 0.0, np.pi / 2, n + 1)[:-1]
    if straight == 0.0:
        top = top[1:]
    return _revolve(np.vstack([bottom, top]), 0.0, 2 * radius + straight)


FAMILIES: dict[str, Callable[[np.random.Generator], trimesh.Trimesh]] = {
    "box": make_box,
    "cylinder": make_cylinder,
    "ellipsoid": make_ellipsoid,
    "superquadric": make_superquadric,
    "torus": make_torus,
    "bottle": make_bottle,
    "mug": make_mug,
    "tool_handle": make_tool_handle,
    "plate": make_plate,
    "cone": make_cone,
    "capsule": make_capsule,
}


def make_object(family: str, seed: int) -> trimesh.Trimesh:
    """The object of ``family`` drawn from ``numpy.random.default_rng(seed)``: same seed, same mesh."""
    if family not in FAMILIES:
        raise ValueError(f"unknown procedural family '{family}'; known: {', '.join(FAMILIES)}")
    return FAMILIES[family](np.random.default_rng(seed))
