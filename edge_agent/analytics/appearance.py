"""What a detected object looks like, as a small colour histogram.

Motion alone cannot tell two people apart when one walks behind the other: the
boxes overlap and the tracker may hand an identity to the wrong person, or start a
new one when the first reappears. A hue/saturation histogram of the upper and the
lower half of the box (clothes, mostly) separates most pairs of people at the cost
of a few microseconds per box, and needs no model. Brightness is left out so that a
shadow or a camera's gain change does not make a person look like someone else.

Descriptors are compared with the Bhattacharyya coefficient: 1 for identical
histograms, 0 for histograms with nothing in common.
"""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt

HUE_BINS, SATURATION_BINS = 8, 4
SIZE = 2 * HUE_BINS * SATURATION_BINS  # upper and lower half
_PATCH = (16, 32)  # width, height the inner box is resized to
_FLAT = np.full(SIZE, 1.0 / SIZE, dtype=np.float32)

Descriptors = npt.NDArray[np.float32]


def _inner(image: npt.NDArray[np.uint8], box: npt.NDArray[np.float32]) -> npt.NDArray[np.uint8]:
    """The box without its margins, which show mostly background."""
    height, width = image.shape[:2]
    x1, y1, x2, y2 = (round(float(v)) for v in box)
    x1, y1, x2, y2 = max(x1, 0), max(y1, 0), min(x2, width), min(y2, height)
    box_w, box_h = x2 - x1, y2 - y1
    if box_w < 5 or box_h < 10:
        return np.zeros((0, 0, 3), dtype=np.uint8)
    crop: npt.NDArray[np.uint8] = image[
        y1 + box_h // 10 : y2 - box_h // 10, x1 + box_w // 5 : x2 - box_w // 5
    ]
    return crop


def describe(image: npt.NDArray[np.uint8], boxes: npt.ArrayLike) -> Descriptors:
    """One histogram per box of a BGR frame; each row sums to 1.

    A box too small or outside the frame gets a flat histogram, which is equally
    like every other and so neither helps nor blocks a match.
    """
    rows = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
    result = np.empty((rows.shape[0], SIZE), dtype=np.float32)
    for index, box in enumerate(rows):
        crop = _inner(image, box)
        if crop.size == 0:
            result[index] = _FLAT
            continue
        patch = cv2.resize(crop, _PATCH, interpolation=cv2.INTER_AREA)
        hsv = cv2.cvtColor(patch, cv2.COLOR_BGR2HSV)
        half = _PATCH[1] // 2
        parts = []
        for region in (hsv[:half], hsv[half:]):
            hist = cv2.calcHist(
                [region], [0, 1], None, [HUE_BINS, SATURATION_BINS], [0, 180, 0, 256]
            ).ravel()
            parts.append(hist / max(float(hist.sum()), 1.0))
        result[index] = np.concatenate(parts) / 2.0
    return result


def likeness(a: Descriptors, b: Descriptors) -> npt.NDArray[np.float64]:
    """Pairwise Bhattacharyya coefficients of two sets of descriptors, in [0, 1]."""
    left = np.sqrt(np.clip(np.asarray(a, dtype=np.float64).reshape(-1, SIZE), 0.0, None))
    right = np.sqrt(np.clip(np.asarray(b, dtype=np.float64).reshape(-1, SIZE), 0.0, None))
    result: npt.NDArray[np.float64] = np.clip(left @ right.T, 0.0, 1.0)
    return result
