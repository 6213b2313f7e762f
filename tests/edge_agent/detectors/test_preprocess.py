"""The planar input tensor is the transposed, normalised frame, contiguous."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from edge_agent.detectors.plugins.nanodet import INV_STD, MEAN
from edge_agent.detectors.preprocess import planar

FLOATS = st.floats(-300.0, 300.0, allow_nan=False, width=32)
SCALES = st.floats(0.0009765625, 2.0, allow_nan=False, width=32)  # 2**-10


def reference(image: np.ndarray, mean: np.ndarray, scale: np.ndarray, reverse: bool) -> np.ndarray:
    chw = (image[:, :, ::-1] if reverse else image).transpose(2, 0, 1).astype(np.float32)
    chw -= mean[:, None, None]
    chw *= scale[:, None, None]
    return chw[None]


@settings(max_examples=60, deadline=None)
@given(
    image=arrays(
        np.uint8,
        st.tuples(st.integers(1, 24), st.integers(1, 24), st.just(3)),
    ),
    mean=arrays(np.float32, 3, elements=FLOATS),
    scale=arrays(np.float32, 3, elements=SCALES),
    reverse=st.booleans(),
)
def test_planar_equals_transpose_then_normalise(
    image: np.ndarray, mean: np.ndarray, scale: np.ndarray, reverse: bool
) -> None:
    got = planar(image, mean, scale, reverse_channels=reverse)
    assert got.dtype == np.float32
    assert got.flags["C_CONTIGUOUS"]
    assert got.shape == (1, 3, *image.shape[:2])
    np.testing.assert_array_equal(got, reference(image, mean, scale, reverse))


def test_nanodet_constants_on_a_strided_frame() -> None:
    # A crop of a larger frame is a strided view, as tiles and regions of interest are.
    frame = np.random.default_rng(8).integers(0, 256, (40, 50, 3), dtype=np.uint8)
    crop = frame[5:37, 7:45]
    np.testing.assert_array_equal(
        planar(crop, MEAN, INV_STD), reference(crop, MEAN, INV_STD, reverse=False)
    )
