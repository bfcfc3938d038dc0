"""Everyday object families built from labelled parts (training.data.everyday, corpus v2)."""

import numpy as np
import pytest

from training.data.everyday import FAMILIES, make_everyday

# families whose people hold them somewhere and never elsewhere: (held parts, never-held parts)
LABELLED = {"kitchen_knife": ({"handle"}, {"blade"}), "hammer": ({"handle"}, {"head"}),
            "screwdriver": ({"handle"}, {"shaft"}), "frying_pan": ({"handle"}, {"pan"}),
            "bottle_v2": ({"body"}, {"cap"}), "brush": ({"handle"}, {"head"})}


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_family_builds_closed_labelled_objects_of_graspable_size(family):
    for seed in range(3):
        obj = make_everyday(family, seed)
        mesh = obj.mesh
        assert mesh.is_watertight and mesh.is_winding_consistent and mesh.volume > 0, (family, seed)
        size = np.ptp(mesh.vertices, axis=0).max()
        assert 0.03 <= size <= 0.40, (family, seed, size)
        assert obj.face_part.shape == (len(mesh.faces),) and obj.face_part.max() < len(obj.part_names)
        assert len(obj.part_hold) == len(obj.part_names) and obj.hold_faces.any()  # every object can be held
    again = make_everyday(family, 1)
    assert np.array_equal(make_everyday(family, 1).mesh.vertices, again.mesh.vertices)  # same seed, same object


@pytest.mark.parametrize("family", sorted(LABELLED))
def test_parts_people_hold_and_parts_they_do_not(family):
    held, never = LABELLED[family]
    obj = make_everyday(family, 0)
    names = dict(zip(obj.part_names, obj.part_hold))
    assert {n for n, h in names.items() if h} >= held and not ({n for n, h in names.items() if h} & never)
    for name in held | never:  # each labelled part owns a real share of the surface
        faces = obj.face_part == obj.part_names.index(name)
        assert obj.mesh.area_faces[faces].sum() > 0.02 * obj.mesh.area


def test_knife_labels_follow_the_geometry():
    """The blade faces lie beyond the handle along the knife's axis."""
    obj = make_everyday("kitchen_knife", 2)
    centres = obj.mesh.triangles_center
    blade = obj.face_part == obj.part_names.index("blade")
    assert np.median(centres[blade, 2]) > np.median(centres[~blade, 2]) + 0.05


def test_unknown_family_is_refused():
    with pytest.raises(ValueError, match="unknown everyday family"):
        make_everyday("teapot", 0)
