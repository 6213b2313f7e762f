"""Colour-histogram descriptors of boxes and their likeness."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from edge_agent.analytics.appearance import SIZE, describe, likeness


def person(shirt: tuple[int, int, int], trousers: tuple[int, int, int]) -> npt.NDArray[np.uint8]:
    """A grey frame with one 'person' at x 100–140, y 50–150 (BGR colours)."""
    image = np.full((240, 320, 3), 128, dtype=np.uint8)
    image[50:100, 100:140] = shirt
    image[100:150, 100:140] = trousers
    return image


BOX = (100.0, 50.0, 140.0, 150.0)


def test_rows_are_histograms_and_odd_boxes_are_flat() -> None:
    image = person((0, 0, 200), (200, 0, 0))
    rows = describe(image, [BOX, (500, 500, 600, 700), (10, 10, 12, 12)])
    assert rows.shape == (3, SIZE)
    np.testing.assert_allclose(rows.sum(axis=1), 1.0, atol=1e-5)
    # Outside the frame or too small to see: equally like everything.
    np.testing.assert_allclose(rows[1], 1.0 / SIZE)
    np.testing.assert_allclose(rows[2], 1.0 / SIZE)
    assert describe(image, np.zeros((0, 4))).shape == (0, SIZE)


def test_same_clothes_alike_other_clothes_not() -> None:
    red_blue = describe(person((0, 0, 200), (200, 0, 0)), [BOX])
    shifted = np.roll(person((0, 0, 200), (200, 0, 0)), 30, axis=1)
    red_blue_again = describe(shifted, [(130.0, 50.0, 170.0, 150.0)])
    green_yellow = describe(person((0, 200, 0), (0, 200, 200)), [BOX])
    blue_red = describe(person((200, 0, 0), (0, 0, 200)), [BOX])
    assert likeness(red_blue, red_blue_again)[0, 0] > 0.99
    assert likeness(red_blue, green_yellow)[0, 0] < 0.2
    # The halves are compared separately: the same colours swapped are another person.
    assert likeness(red_blue, blue_red)[0, 0] < 0.6


def test_brightness_alone_does_not_change_the_look() -> None:
    bright = describe(person((40, 40, 220), (220, 60, 40)), [BOX])
    dim = describe(person((20, 20, 110), (110, 30, 20)), [BOX])
    assert likeness(bright, dim)[0, 0] > 0.9


@settings(max_examples=40, deadline=None)
@given(
    image=arrays(np.uint8, (48, 64, 3)),
    corners=st.lists(
        st.tuples(st.floats(-10, 70), st.floats(-10, 50), st.floats(1, 40), st.floats(1, 40)),
        min_size=1,
        max_size=4,
    ),
)
def test_likeness_is_a_symmetric_coefficient(
    image: npt.NDArray[np.uint8], corners: list[tuple[float, float, float, float]]
) -> None:
    boxes = [(x, y, x + w, y + h) for x, y, w, h in corners]
    rows = describe(image, boxes)
    np.testing.assert_allclose(rows.sum(axis=1), 1.0, atol=1e-5)
    matrix = likeness(rows, rows)
    assert np.all((matrix >= 0.0) & (matrix <= 1.0))
    np.testing.assert_allclose(matrix, matrix.T, atol=1e-9)
    np.testing.assert_allclose(np.diag(matrix), 1.0, atol=1e-5)
