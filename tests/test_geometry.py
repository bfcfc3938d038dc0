"""jhod_core.geometry: loading/validation, sampling, kNN + distance field, inside tests, grids."""

import math

import numpy as np
import pytest
import trimesh

from jhod_core.errors import JHODError, MeshError
from jhod_core.geometry.inside import contains, signed_distance, unsigned_distance, winding_number
from jhod_core.geometry.mesh import load_mesh, normalize_object, validate_mesh
from jhod_core.geometry.sampling import farthest_point_sampling, sample_surface
from jhod_core.geometry.spatial import joint_distance_field, knn
from jhod_core.geometry.voxels import grid_points, solid_voxel_points

R = 0.03  # sphere radius used throughout, metres


def box(side=0.06, centre=(0, 0, 0)):
    return trimesh.creation.box((side,) * 3, transform=trimesh.transformations.translation_matrix(centre))


def sphere_without_cap(radius=R, cap_height_fraction=0.3):
    """Icosphere with every face above z = (1 - f) r removed: a hole of angular radius ~46 deg."""
    sphere = trimesh.creation.icosphere(4, radius=radius)
    keep = sphere.triangles_center[:, 2] < (1 - cap_height_fraction) * radius
    return trimesh.Trimesh(sphere.vertices, sphere.faces[keep], process=False)


# --------------------------------------------------------------------------- load_mesh

@pytest.mark.parametrize("suffix", [".obj", ".ply", ".stl", ".off", ".glb"])
def test_load_mesh_formats_roundtrip_watertight(tmp_path, suffix):
    path = tmp_path / f"box{suffix}"
    box().export(path)
    mesh = load_mesh(path)
    assert isinstance(mesh, trimesh.Trimesh)
    np.testing.assert_allclose(mesh.bounds, [[-0.03] * 3, [0.03] * 3], atol=1e-7)
    assert mesh.is_watertight  # STL is triangle soup: welding makes it closed again
    assert len(mesh.vertices) == 8


@pytest.mark.parametrize("suffix", [".glb", ".gltf"])
def test_load_mesh_scene_concatenates_with_transforms(tmp_path, suffix):
    scene = trimesh.Scene()
    scene.add_geometry(box(0.02), transform=trimesh.transformations.translation_matrix([0.1, 0, 0]))
    scene.add_geometry(box(0.02))
    path = tmp_path / f"scene{suffix}"
    scene.export(path)
    mesh = load_mesh(path)
    assert len(mesh.faces) == 24
    np.testing.assert_allclose(mesh.bounds, [[-0.01, -0.01, -0.01], [0.11, 0.01, 0.01]], atol=1e-7)


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("corrupt.ply", b"\x00\xff garbage bytes \x13\x37" * 20, "cannot read mesh file"),
        ("corrupt.glb", b"\x00\xff garbage bytes \x13\x37" * 20, "cannot read mesh file"),
        ("corrupt.obj", b"\x00\xff garbage bytes \x13\x37" * 20, "holds no mesh geometry"),
        ("empty.obj", b"", "holds no mesh geometry"),
        ("points.obj", b"v 0 0 0\nv 0.1 0 0\nv 0 0.1 0\n", "point cloud"),
        ("points.ply", b"ply\nformat ascii 1.0\nelement vertex 3\nproperty float x\nproperty float y\n"
                       b"property float z\nend_header\n0 0 0\n0.1 0 0\n0 0.1 0\n", "point cloud"),
        ("mesh.xyz", b"0 0 0\n", "unsupported mesh format '.xyz'"),
    ],
)
def test_load_mesh_rejects_bad_files(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(MeshError, match=message):
        load_mesh(path)


def test_load_mesh_missing_file_and_directory(tmp_path):
    with pytest.raises(MeshError, match="mesh file not found: .*nope.obj"):
        load_mesh(tmp_path / "nope.obj")
    with pytest.raises(MeshError, match="not a file"):
        load_mesh(tmp_path)


# --------------------------------------------------------------------------- validate_mesh

def test_validate_mesh_accepts_closed_box_without_warnings():
    assert validate_mesh(box()) == []


def test_validate_mesh_warns_on_open_mesh():
    warnings = validate_mesh(sphere_without_cap())
    assert len(warnings) == 1 and "not watertight" in warnings[0]


def test_validate_mesh_warns_on_some_degenerate_faces():
    mesh = box()
    mesh = trimesh.Trimesh(mesh.vertices, np.vstack([mesh.faces, [[0, 0, 1]]]), process=False)
    assert any("1 of 13 faces have zero area" in w for w in validate_mesh(mesh))


TRI = np.array([[0, 0, 0], [0.1, 0, 0], [0, 0.1, 0], [0, 0, 0.1]], dtype=float)
TET_FACES = np.array([[0, 2, 1], [0, 1, 3], [0, 3, 2], [1, 2, 3]])


@pytest.mark.parametrize(
    "vertices, faces, message",
    [
        (np.zeros((0, 3)), np.zeros((0, 3), int), "no vertices"),
        (TRI, np.zeros((0, 3), int), "4 vertices but no faces"),
        (np.where(np.arange(12).reshape(4, 3) == 4, np.nan, TRI), TET_FACES, "NaN or infinite coordinates \\(1 of 4"),
        (np.where(np.arange(12).reshape(4, 3) == 0, np.inf, TRI), TET_FACES, "NaN or infinite"),
        (np.zeros((4, 3)), TET_FACES, "every face has zero area"),
        (TRI, np.array([[0, 1, 7]]), "reference vertices that do not exist"),
        (TRI * 0.01, TET_FACES, r"0\.001 m across.*expected 0\.01\.\.1 m"),
        (TRI * 50, TET_FACES, r"5 m across.*millimetres"),
    ],
    ids=["no-vertices", "no-faces", "nan", "inf", "degenerate", "bad-index", "1mm", "5m"],
)
def test_validate_mesh_errors(vertices, faces, message):
    with pytest.raises(MeshError, match=message):
        validate_mesh(trimesh.Trimesh(vertices, faces, process=False))


def test_validate_mesh_rejects_non_mesh():
    with pytest.raises(MeshError, match="expected a triangle mesh, got PointCloud"):
        validate_mesh(trimesh.PointCloud(TRI))


def test_validate_mesh_size_limits_are_parameters():
    tiny = trimesh.Trimesh(TRI * 0.01, TET_FACES, process=False)
    assert validate_mesh(tiny, min_size=0.0005) == []


# --------------------------------------------------------------------------- normalize_object

def test_normalize_object_centres_bbox_and_leaves_input_alone():
    mesh = box(0.04, centre=(0.1, -0.2, 0.3))
    mesh.vertices[0] += [0.01, 0, 0]  # make the vertex mean differ from the bbox centre
    before = mesh.vertices.copy()
    centred, offset = normalize_object(mesh)
    np.testing.assert_array_equal(mesh.vertices, before)
    np.testing.assert_allclose(centred.bounds.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(offset, mesh.bounds.mean(axis=0))
    np.testing.assert_allclose(centred.vertices + offset, before)  # translation only


# --------------------------------------------------------------------------- sampling

def test_sample_surface_deterministic_and_on_surface():
    mesh = trimesh.creation.icosphere(2, radius=R)
    p1, n1, f1 = sample_surface(mesh, 500, seed=3)
    p2, n2, f2 = sample_surface(mesh, 500, seed=3)
    p3, _, _ = sample_surface(mesh, 500, seed=4)
    np.testing.assert_array_equal(p1, p2)
    np.testing.assert_array_equal(f1, f2)
    assert not np.allclose(p1, p3)
    assert p1.shape == n1.shape == (500, 3) and f1.shape == (500,)
    # each point lies in the plane of its face, normals are that face's unit normal
    plane_offset = np.einsum("ij,ij->i", p1 - mesh.vertices[mesh.faces[f1, 0]], mesh.face_normals[f1])
    np.testing.assert_allclose(plane_offset, 0, atol=1e-12)
    np.testing.assert_allclose(n1, mesh.face_normals[f1])


def test_sample_surface_is_area_weighted():
    # two disjoint rectangles of area 1 and 3 (units: 0.1 m); expect 25% / 75% of the samples
    rect = lambda x0, w: [[x0, 0, 0], [x0 + w, 0, 0], [x0 + w, 0.1, 0], [x0, 0.1, 0]]
    vertices = np.array(rect(0, 0.1) + rect(0.2, 0.3))
    faces = np.array([[0, 1, 2], [0, 2, 3], [4, 5, 6], [4, 6, 7]])
    mesh = trimesh.Trimesh(vertices, faces, process=False)
    n = 20000
    points, _, face_idx = sample_surface(mesh, n, seed=0)
    frac_small = np.mean(face_idx < 2)
    assert abs(frac_small - 0.25) < 5 * math.sqrt(0.25 * 0.75 / n)  # 5 sigma of the binomial
    assert np.all(points[face_idx < 2, 0] <= 0.1) and np.all(points[face_idx >= 2, 0] >= 0.2)


def test_sample_surface_uniform_inside_triangle():
    # uniform samples have mean = centroid and E[x^2] = 1/6 on the unit right triangle
    mesh = trimesh.Trimesh([[0, 0, 0], [1, 0, 0], [0, 1, 0]], [[0, 1, 2]], process=False)
    points, _, _ = sample_surface(mesh, 20000, seed=1)
    np.testing.assert_allclose(points[:, :2].mean(axis=0), [1 / 3, 1 / 3], atol=0.01)
    np.testing.assert_allclose((points[:, :2] ** 2).mean(axis=0), [1 / 6, 1 / 6], atol=0.01)


def test_sample_surface_rejects_zero_area():
    with pytest.raises(MeshError, match="zero total area"):
        sample_surface(trimesh.Trimesh(np.zeros((3, 3)), [[0, 1, 2]], process=False))


def test_farthest_point_sampling_deterministic_and_covers_clusters():
    rng = np.random.default_rng(0)
    centres = rng.uniform(-1, 1, (6, 3)) * 10
    points = np.concatenate([c + rng.normal(0, 0.01, (50, 3)) for c in centres])
    idx = farthest_point_sampling(points, 6, seed=2)
    np.testing.assert_array_equal(idx, farthest_point_sampling(points, 6, seed=2))
    assert sorted(idx // 50) == list(range(6))  # one pick per cluster


def test_farthest_point_sampling_beats_random_coverage():
    points = np.random.default_rng(1).uniform(0, 1, (2000, 3))
    covering = lambda idx: knn(points, points[idx], 1)[0].max()
    fps = covering(farthest_point_sampling(points, 32))
    rand = covering(np.random.default_rng(2).choice(len(points), 32, replace=False))
    assert len(set(farthest_point_sampling(points, 32))) == 32
    assert fps < 0.8 * rand
    with pytest.raises(ValueError):
        farthest_point_sampling(points, 2001)


# --------------------------------------------------------------------------- knn, distance field

def test_knn_matches_brute_force():
    rng = np.random.default_rng(0)
    points, query = rng.normal(size=(300, 3)), rng.normal(size=(20, 3))
    dist, idx = knn(query, points, 5)
    brute = np.linalg.norm(query[:, None] - points[None], axis=-1)
    np.testing.assert_array_equal(idx, np.argsort(brute, axis=1)[:, :5])
    np.testing.assert_allclose(dist, np.sort(brute, axis=1)[:, :5])
    assert knn(query, points, 1)[1].shape == (20, 1)


def test_joint_distance_field_definition():
    rng = np.random.default_rng(0)
    joints, points = rng.normal(size=(16, 3)) * 0.05, rng.normal(size=(500, 3)) * 0.05
    field = joint_distance_field(joints, points)
    assert field.shape == (16, 30)
    vectors = field.reshape(16, 10, 3)
    norms = np.linalg.norm(vectors, axis=-1)
    assert np.all(np.diff(norms, axis=1) >= 0)  # nearest first
    brute = np.sort(np.linalg.norm(points[None] - joints[:, None], axis=-1), axis=1)[:, :10]
    np.testing.assert_allclose(norms, brute)
    # the vectors point from the joint to actual object points
    np.testing.assert_allclose(vectors[3, 0] + joints[3], points[np.argmin(np.linalg.norm(points - joints[3], axis=1))])


def test_joint_distance_field_numpy_torch_agree_and_differentiable():
    torch = pytest.importorskip("torch")
    from jhod_core.torch.spatial import joint_distance_field_torch

    rng = np.random.default_rng(1)
    joints, points = rng.normal(size=(4, 16, 3)) * 0.05, rng.normal(size=(4, 400, 3)) * 0.05
    expected = joint_distance_field(joints, points)
    assert expected.shape == (4, 16, 30)
    # one point cloud shared by the batch broadcasts
    np.testing.assert_allclose(joint_distance_field(joints, points[0])[2], joint_distance_field(joints[2], points[0]))

    j = torch.tensor(joints, requires_grad=True)
    got = joint_distance_field_torch(j, torch.tensor(points))
    np.testing.assert_allclose(got.detach().numpy(), expected, atol=1e-12)
    got.sum().backward()  # d/dj sum_k (p_k - j) = -k for every coordinate
    np.testing.assert_allclose(j.grad.numpy(), -10.0)
    shared = joint_distance_field_torch(torch.tensor(joints), torch.tensor(points[0]))
    np.testing.assert_allclose(shared.numpy(), joint_distance_field(joints, points[0]), atol=1e-12)


# --------------------------------------------------------------------------- inside tests

def test_contains_watertight_sphere_uses_embree_and_matches_analytic():
    assert trimesh.ray.has_embree
    sphere = trimesh.creation.icosphere(4, radius=R)
    assert sphere.is_watertight and "embree" in type(sphere.ray).__module__
    points = np.random.default_rng(0).uniform(-0.04, 0.04, (20000, 3))
    r = np.linalg.norm(points, axis=1)
    clear = np.abs(r - R) > 0.001  # the polyhedron deviates < 0.1 mm from the sphere
    np.testing.assert_array_equal(contains(sphere, points)[clear], (r < R)[clear])


def test_winding_number_inside_open_sphere():
    mesh = sphere_without_cap()
    assert not mesh.is_watertight
    rng = np.random.default_rng(0)
    directions = rng.normal(size=(400, 3))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    inner = directions * rng.uniform(0, 0.8 * R, (400, 1))
    inner = inner[inner[:, 2] < 0.5 * R]  # below the hole (above it "inside" is ambiguous)
    assert len(inner) > 300
    outer = directions * rng.uniform(1.2 * R, 2 * R, (400, 1))
    assert contains(mesh, inner).all()
    assert not contains(mesh, outer).any()
    # w at the centre = 1 - (solid angle of the hole) / 4 pi, i.e. clearly above 0.5 but not 1
    w0 = winding_number(mesh, np.zeros((1, 3)))[0]
    assert 0.8 < w0 < 0.95
    # inverted faces: w = -1 inside, still classified inside
    flipped = trimesh.Trimesh(mesh.vertices, mesh.faces[:, ::-1], process=False)
    assert winding_number(flipped, np.zeros((1, 3)))[0] == pytest.approx(-w0)
    assert contains(flipped, inner).all()


def test_winding_number_equals_parity_on_closed_mesh():
    sphere = trimesh.creation.icosphere(3, radius=R)
    points = np.random.default_rng(3).uniform(-0.04, 0.04, (500, 3))
    w = winding_number(sphere, points)
    np.testing.assert_allclose(w, np.round(w), atol=1e-5)
    np.testing.assert_array_equal(w > 0.5, contains(sphere, points))


def test_signed_distance_box_exact_and_sphere_analytic():
    cube = box()
    points = np.array([[0, 0, 0], [0.05, 0, 0], [0, -0.025, 0], [0.04, 0.04, 0], [0.01, 0.02, -0.029]])
    np.testing.assert_allclose(signed_distance(cube, points),
                               [-0.03, 0.02, -0.005, math.sqrt(2) * 0.01, -0.001], atol=1e-12)

    sphere = trimesh.creation.icosphere(4, radius=R)
    sagitta = R - np.min(np.abs(np.einsum("ij,ij->i", sphere.face_normals, sphere.triangles_center)))
    rng = np.random.default_rng(4)
    points = rng.uniform(-0.05, 0.05, (2000, 3))
    analytic = np.linalg.norm(points, axis=1) - R
    sd = signed_distance(sphere, points)
    assert np.abs(sd - analytic).max() <= sagitta + 1e-12  # polyhedral sphere lies within the sagitta
    clear = np.abs(analytic) > sagitta
    np.testing.assert_array_equal(np.sign(sd[clear]), np.sign(analytic[clear]))


def test_unsigned_distance_matches_brute_force():
    mesh = trimesh.creation.capsule(0.08, 0.02, count=[12, 12])  # long thin faces next to small ones
    points = np.random.default_rng(5).uniform(-0.08, 0.08, (150, 3))
    brute = [np.linalg.norm(trimesh.triangles.closest_point(mesh.triangles, np.tile(p, (len(mesh.faces), 1))) - p,
                            axis=1).min() for p in points]
    np.testing.assert_allclose(unsigned_distance(mesh, points), brute, rtol=0, atol=1e-15)


def test_signed_distance_open_mesh_negative_inside():
    sd = signed_distance(sphere_without_cap(), np.array([[0, 0, 0], [0, 0, -2 * R]]))
    np.testing.assert_allclose(sd, [-R, R], atol=1e-4)  # icosphere(4) sagitta ~ 5e-5 m


# --------------------------------------------------------------------------- grids

def test_grid_points_lattice_and_limit():
    g = grid_points([[-0.003, 0, 0], [0.003, 0.0021, 0.001]], 0.001)
    assert g.shape == (6 * 2 * 1, 3)
    np.testing.assert_allclose(np.unique(g[:, 0]), np.arange(-2.5, 3) * 0.001)
    assert len(grid_points([[0, 0, 0], [0.0004, 1, 1]], 0.001)) == 0
    with pytest.raises(JHODError, match="use a larger pitch"):
        grid_points([[0, 0, 0], [1, 1, 1]], 0.0001)


def test_solid_voxel_points_volumes():
    points, pitch = solid_voxel_points(box(), 0.005)
    assert pitch == 0.005 and len(points) == 12**3  # 6 cm / 5 mm cells, exactly filled
    sphere = trimesh.creation.icosphere(4, radius=R)
    points, pitch = solid_voxel_points(sphere, 0.002)
    assert len(points) * pitch**3 == pytest.approx(4 / 3 * math.pi * R**3, rel=0.02)
    half, _ = solid_voxel_points(sphere, 0.002, bounds=[[-1, -1, 0], [1, 1, 1]])
    assert np.all(half[:, 2] > 0) and abs(len(half) / len(points) - 0.5) < 0.01
    # an open sphere is still filled (winding numbers)
    open_points, _ = solid_voxel_points(sphere_without_cap(), 0.004)
    assert len(open_points) * 0.004**3 > 0.8 * 4 / 3 * math.pi * R**3
