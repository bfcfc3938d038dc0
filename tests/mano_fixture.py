"""A synthetic MANO pair of MANO's exact file structure (no MANO data): for the real-MANO code paths in tests."""

import pickle

import numpy as np

from jhod_core.hand import load_hand_data
from jhod_core.hand.model_file import MIRROR  # noqa: F401  (re-exported for the tests)

FLIP45 = np.tile([1.0, -1.0, -1.0], 15)


def synthetic_mano(folder, seed=0):
    """MANO_RIGHT.pkl and MANO_LEFT.pkl of MANO's structure, built from the open hand: 778 of its vertices, a
    joint regressor, blended skinning weights, random shape directions, an orthonormal PCA basis and a mean pose.
    The left file is the mirror image, except its shape directions' x components are not mirrored (the original
    MANO_LEFT's quirk that the loader fixes)."""
    from scipy.sparse import csc_matrix

    open_hand = load_hand_data()
    rng = np.random.default_rng(seed)
    idx = np.sort(rng.choice(open_hand.num_vertices, 778, replace=False))
    v = open_hand.v_template[idx]
    weights = open_hand.weights[idx]
    weights /= weights.sum(1, keepdims=True)
    near = np.argsort(np.linalg.norm(v[None] - open_hand.rest_joints[:, None], axis=2), axis=1)[:, :4]
    reg = np.zeros((16, 778))
    for j in range(16):
        reg[j, near[j]] = 0.25
    q, _ = np.linalg.qr(rng.normal(size=(45, 45)))
    right = {"v_template": v, "shapedirs": rng.normal(scale=0.004, size=(778, 3, 10)),
             "posedirs": np.zeros((778, 3, 135)), "J_regressor": csc_matrix(reg), "weights": weights,
             "kintree_table": np.stack([np.array([2 ** 32 - 1, *open_hand.parents[1:]]), np.arange(16)]),
             "f": np.stack([np.arange(776), np.arange(1, 777), np.arange(2, 778)], 1),
             "hands_components": q, "hands_mean": rng.normal(scale=0.2, size=45), "bs_type": "lrotmin"}
    # the exact mirror would have shapedirs * MIRROR; the original MANO_LEFT leaves the x components unmirrored
    left = dict(right, v_template=v * MIRROR, f=right["f"][:, ::-1], hands_components=q * FLIP45[None],
                hands_mean=right["hands_mean"] * FLIP45, shapedirs=right["shapedirs"].copy())
    for name, arrays in (("MANO_RIGHT.pkl", right), ("MANO_LEFT.pkl", left)):
        with open(folder / name, "wb") as fh:
            pickle.dump(arrays, fh, protocol=2)
    return folder
