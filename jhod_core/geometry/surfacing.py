"""Points -> a clean, closed, smooth mesh, in NumPy only (the CLI and the Blender add-on surface generated objects
with this one method).

1. Density: every point is splatted into a grid (cells of extent / ``resolution``) and blurred with a Gaussian of
   ``SIGMA_SPACINGS`` point spacings: a smooth shell of density around the surface.
2. Solid: grid cells whose density is below the surface level and that are connected to the grid's border are the
   outside (found with the shell thickened by ``CLOSING`` cells, so gaps between points do not let it in); everything
   else (the shell and what it encloses, e.g. a bottle's inside) is the solid. A mug's handle keeps its hole: the
   outside reaches through it.
3. Surface nets: one vertex per cell the boundary crosses, at the mean of its edge crossings; one quad per crossed
   grid edge (split into two triangles); closed by construction when the solid stays inside the grid.
4. Taubin smoothing (no shrinking), then the surface is moved back inwards by the shell's offset so it passes
   through the points.

A few thousand vertices for everyday objects at the default resolution.
"""

from __future__ import annotations

import numpy as np

from .normals import vertex_normals

RESOLUTION = 32          # cells along the longest side
BALL_SPACINGS = 3.5      # each point occupies a ball of this many median point spacings: the balls overlap
SMOOTH_CELLS = 1.2       # Gaussian blur of the occupancy (cells): a smooth boundary, no "popcorn" of balls
MARGIN = 3               # empty cells around the points
TAUBIN = (0.5, -0.53, 12)


def median_spacing(points: np.ndarray, sample: int = 512) -> float:
    """Median nearest-neighbour distance of (a seeded subset of) the points."""
    idx = np.random.default_rng(0).permutation(len(points))[:sample]
    sub = points[idx]
    d2 = ((sub[:, None] - points[None]) ** 2).sum(-1)
    d2[np.arange(len(idx)), idx] = np.inf
    return float(np.sqrt(np.median(d2.min(1))))


def _blur(field: np.ndarray, sigma: float) -> np.ndarray:
    radius = max(1, int(np.ceil(3 * sigma)))
    x = np.arange(-radius, radius + 1)
    kernel = np.exp(-0.5 * (x / sigma) ** 2)
    kernel /= kernel.sum()
    for axis in range(3):
        field = np.apply_along_axis(lambda v: np.convolve(v, kernel, mode="same"), axis, field)
    return field


def _splat(points: np.ndarray, origin: np.ndarray, h: float, shape) -> np.ndarray:
    """Trilinear deposit of unit weights at the points."""
    g = (points - origin) / h
    base = np.floor(g).astype(np.int64)
    frac = g - base
    field = np.zeros(shape)
    for dx in (0, 1):
        for dy in (0, 1):
            for dz in (0, 1):
                w = (np.where(dx, frac[:, 0], 1 - frac[:, 0]) * np.where(dy, frac[:, 1], 1 - frac[:, 1])
                     * np.where(dz, frac[:, 2], 1 - frac[:, 2]))
                np.add.at(field, (base[:, 0] + dx, base[:, 1] + dy, base[:, 2] + dz), w)
    return field


def _sample(field: np.ndarray, g: np.ndarray) -> np.ndarray:
    """Trilinear interpolation of a grid field at grid coordinates g (n, 3)."""
    base = np.clip(np.floor(g).astype(np.int64), 0, np.array(field.shape) - 2)
    frac = g - base
    out = np.zeros(len(g))
    for dx in (0, 1):
        for dy in (0, 1):
            for dz in (0, 1):
                w = (np.where(dx, frac[:, 0], 1 - frac[:, 0]) * np.where(dy, frac[:, 1], 1 - frac[:, 1])
                     * np.where(dz, frac[:, 2], 1 - frac[:, 2]))
                out += w * field[base[:, 0] + dx, base[:, 1] + dy, base[:, 2] + dz]
    return out


def _dilate(mask: np.ndarray, cells: int) -> np.ndarray:
    for _ in range(cells):
        grown = mask.copy()
        grown[1:] |= mask[:-1]
        grown[:-1] |= mask[1:]
        grown[:, 1:] |= mask[:, :-1]
        grown[:, :-1] |= mask[:, 1:]
        grown[:, :, 1:] |= mask[:, :, :-1]
        grown[:, :, :-1] |= mask[:, :, 1:]
        mask = grown
    return mask


def _outside(empty: np.ndarray) -> np.ndarray:
    """Cells of `empty` connected (6-neighbourhood) to the grid's border: a flood fill by repeated dilation."""
    reached = np.zeros_like(empty)
    reached[0], reached[-1], reached[:, 0], reached[:, -1], reached[:, :, 0], reached[:, :, -1] = (True,) * 6
    reached &= empty
    while True:
        grown = reached.copy()
        grown[1:] |= reached[:-1]
        grown[:-1] |= reached[1:]
        grown[:, 1:] |= reached[:, :-1]
        grown[:, :-1] |= reached[:, 1:]
        grown[:, :, 1:] |= reached[:, :, :-1]
        grown[:, :, :-1] |= reached[:, :, 1:]
        grown &= empty
        if grown.sum() == reached.sum():
            return reached
        reached = grown


def _surface_nets(f: np.ndarray):
    """(vertices in grid coordinates, triangles) of the zero level of f (negative inside), outward winding."""
    inside = f < 0
    nx, ny, nz = f.shape
    corners = np.array([[i, j, k] for i in (0, 1) for j in (0, 1) for k in (0, 1)])
    cube_inside = np.stack([inside[i:nx - 1 + i, j:ny - 1 + j, k:nz - 1 + k] for i, j, k in corners], -1)
    active = cube_inside.any(-1) & ~cube_inside.all(-1)
    cells = np.argwhere(active)
    index = -np.ones(active.shape, dtype=np.int64)
    index[tuple(cells.T)] = np.arange(len(cells))
    edges = [(a, b) for a in range(8) for b in range(a + 1, 8) if np.abs(corners[a] - corners[b]).sum() == 1]
    total, count = np.zeros((len(cells), 3)), np.zeros(len(cells))
    for a, b in edges:
        pa, pb = cells + corners[a], cells + corners[b]
        fa, fb = f[tuple(pa.T)], f[tuple(pb.T)]
        cross = (fa < 0) != (fb < 0)
        t = np.where(cross, fa / np.where(cross, fa - fb, 1.0), 0.0)
        total[cross] += pa[cross] + t[cross, None] * (pb[cross] - pa[cross])
        count[cross] += 1
    vertices = total / count[:, None]
    quads = []
    for axis in range(3):
        u, v = [a for a in range(3) if a != axis]
        step = np.eye(3, dtype=np.int64)[axis]
        lo = np.argwhere(np.ones(np.array(f.shape) - step, bool))
        lo = lo[(lo[:, u] > 0) & (lo[:, v] > 0)]
        a_in, b_in = inside[tuple(lo.T)], inside[tuple((lo + step).T)]
        crossing = a_in != b_in
        lo, a_in = lo[crossing], a_in[crossing]
        du, dv = np.eye(3, dtype=np.int64)[u], np.eye(3, dtype=np.int64)[v]
        ring = [lo - du - dv, lo - dv, lo, lo - du]  # the four cells around the edge, counter-clockwise in (u, v)
        quad = np.stack([index[tuple(c.T)] for c in ring], 1)
        # the ring's normal is e_u x e_v (+axis, or -axis for axis 1); it must point from inside to outside
        flip = ~a_in if axis != 1 else a_in
        quad[flip] = quad[flip][:, ::-1]
        quads.append(quad)
    quads = np.concatenate(quads)
    # split along the shorter diagonal
    p = vertices[quads]
    d02 = np.linalg.norm(p[:, 0] - p[:, 2], axis=1)
    d13 = np.linalg.norm(p[:, 1] - p[:, 3], axis=1)
    short = d02 <= d13
    tris = np.concatenate([np.where(short[:, None], quads[:, [0, 1, 2]], quads[:, [0, 1, 3]]),
                           np.where(short[:, None], quads[:, [0, 2, 3]], quads[:, [1, 2, 3]])])
    return vertices, tris


def _no_checkerboards(f: np.ndarray) -> np.ndarray:
    """The field with every grid square whose corners alternate inside/outside (a checkerboard, where surface nets
    would make an edge shared by four triangles) filled: its outside corners move just inside."""
    f = f.copy()
    tiny = 1e-9
    for _ in range(8):
        inside = f < 0
        changed = False
        for axis in range(3):
            u, v = [a for a in range(3) if a != axis]
            c00 = inside
            c10 = np.roll(inside, -1, u)
            c01 = np.roll(inside, -1, v)
            c11 = np.roll(np.roll(inside, -1, u), -1, v)
            checker = (c00 == c11) & (c10 == c01) & (c00 != c10)
            checker[tuple(slice(-1, None) if a in (u, v) else slice(None) for a in range(3))] = False
            sl = [slice(None)] * 3
            sl[u] = slice(-1, None)
            checker[tuple(sl)] = False
            sl = [slice(None)] * 3
            sl[v] = slice(-1, None)
            checker[tuple(sl)] = False
            if not checker.any():
                continue
            changed = True
            for du, dv in ((0, 0), (1, 0), (0, 1), (1, 1)):
                corner = np.roll(np.roll(checker, du, u), dv, v)
                f[corner & (f >= 0)] = -tiny
        if not changed:
            break
    return f


def _neighbours(n: int, faces: np.ndarray):
    edges = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    edges = np.unique(np.sort(edges, axis=1), axis=0)
    degree = np.bincount(edges.ravel(), minlength=n).astype(np.float64)
    return edges, np.maximum(degree, 1.0)


def _taubin(vertices: np.ndarray, faces: np.ndarray, lam: float, mu: float, iterations: int) -> np.ndarray:
    edges, degree = _neighbours(len(vertices), faces)
    v = vertices.copy()
    for _ in range(iterations):
        for factor in (lam, mu):
            mean = np.zeros_like(v)
            np.add.at(mean, edges[:, 0], v[edges[:, 1]])
            np.add.at(mean, edges[:, 1], v[edges[:, 0]])
            v = v + factor * (mean / degree[:, None] - v)
    return v


def points_to_mesh(points: np.ndarray, resolution: int = RESOLUTION) -> tuple[np.ndarray, np.ndarray]:
    """(vertices (V, 3), triangles (F, 3)): a closed, smooth surface through the points (same units)."""
    points = np.asarray(points, dtype=np.float64)
    points = points[np.isfinite(points).all(axis=1)]
    if len(points) < 8 or np.ptp(points, axis=0).max() <= 0:
        raise ValueError("surfacing needs at least 8 distinct, finite points")
    spacing = max(median_spacing(points), 1e-9)
    h = np.ptp(points, axis=0).max() / resolution
    reach = max(1, int(np.ceil(BALL_SPACINGS * spacing / h)))  # cells: balls this big overlap between points
    margin = MARGIN + reach + int(np.ceil(3 * SMOOTH_CELLS))
    # a grid centred on the points' bounding box: mirrored points give the mirrored surface
    low, high = points.min(axis=0), points.max(axis=0)
    counts = np.ceil((high - low) / h).astype(int) + 2 * margin + 1
    origin = (low + high) / 2 - (counts - 1) / 2 * h
    shape = tuple(counts)
    occupied = np.zeros(shape, bool)
    occupied[tuple(np.rint((points - origin) / h).astype(np.int64).T)] = True
    solid = ~_outside(~_dilate(occupied, reach))  # the shell and what it encloses
    f = 0.5 - _blur(solid.astype(np.float64), SMOOTH_CELLS)  # negative inside, a smooth boundary
    vertices, faces = _surface_nets(_no_checkerboards(f))
    vertices = _taubin(vertices, faces, *TAUBIN)
    vertices = origin + vertices * h
    # the boundary lies around the balls, outside the points: move it back by the median gap to them
    from ..refine import NumpyNearest

    gap = float(np.median(NumpyNearest(points).query(vertices)[0]))
    return vertices - vertex_normals(vertices, faces) * gap, faces
