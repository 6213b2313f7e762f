"""Frame → input tensor transforms, and the mapping of boxes back to the source frame."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt


@dataclass(frozen=True, slots=True)
class FrameTransform:
    """How a source frame was fitted into the model input.

    ``input = source * (gain_x, gain_y) + (pad_x, pad_y)``.
    """

    gain_x: float
    gain_y: float
    pad_x: float
    pad_y: float
    source_width: int
    source_height: int

    def to_source(self, boxes: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """Map ``(N, 4)`` x1,y1,x2,y2 boxes from input to source pixels, clipped to the frame."""
        out = np.empty_like(boxes, dtype=np.float32)
        out[:, 0] = (boxes[:, 0] - self.pad_x) / self.gain_x
        out[:, 2] = (boxes[:, 2] - self.pad_x) / self.gain_x
        out[:, 1] = (boxes[:, 1] - self.pad_y) / self.gain_y
        out[:, 3] = (boxes[:, 3] - self.pad_y) / self.gain_y
        np.clip(out[:, 0::2], 0, self.source_width, out=out[:, 0::2])
        np.clip(out[:, 1::2], 0, self.source_height, out=out[:, 1::2])
        return out


@dataclass(frozen=True, slots=True)
class Prepared:
    """A model input tensor and the transform that produced it."""

    tensor: npt.NDArray[np.float32]
    transform: FrameTransform


def planar(
    image: npt.NDArray[np.uint8],
    mean: npt.NDArray[np.float32],
    scale: npt.NDArray[np.float32],
    *,
    reverse_channels: bool = False,
) -> npt.NDArray[np.float32]:
    """``H×W×3`` uint8 → contiguous ``1×3×H×W`` float32 of ``(value − mean[c]) · scale[c]``.

    One pass per channel plane straight into the output: transposing first and
    normalising the whole tensor reads and writes it three times and leaves a
    non-contiguous array that the runtime copies once more. ``reverse_channels``
    turns BGR into RGB on the way.
    """
    height, width = image.shape[:2]
    tensor = np.empty((1, 3, height, width), dtype=np.float32)
    for channel in range(3):
        source = image[:, :, 2 - channel if reverse_channels else channel]
        plane = tensor[0, channel]
        np.subtract(source, mean[channel], out=plane, dtype=np.float32)
        plane *= scale[channel]
    return tensor


def stretch(
    frame: npt.NDArray[np.uint8], width: int, height: int
) -> tuple[npt.NDArray[np.uint8], FrameTransform]:
    """Resize to ``width`` x ``height`` ignoring aspect ratio (NanoDet's training resize)."""
    src_h, src_w = frame.shape[:2]
    resized = np.asarray(
        cv2.resize(frame, (width, height), interpolation=cv2.INTER_LINEAR), dtype=np.uint8
    )
    transform = FrameTransform(
        gain_x=width / src_w,
        gain_y=height / src_h,
        pad_x=0.0,
        pad_y=0.0,
        source_width=src_w,
        source_height=src_h,
    )
    return resized, transform


def letterbox(
    frame: npt.NDArray[np.uint8], width: int, height: int, fill: int = 114
) -> tuple[npt.NDArray[np.uint8], FrameTransform]:
    """Fit keeping aspect ratio, centred, padded with ``fill`` (Ultralytics' LetterBox)."""
    src_h, src_w = frame.shape[:2]
    gain = min(height / src_h, width / src_w)
    new_w, new_h = max(round(src_w * gain), 1), max(round(src_h * gain), 1)
    dw, dh = (width - new_w) / 2, (height - new_h) / 2
    if (new_w, new_h) != (src_w, src_h):
        frame = np.asarray(
            cv2.resize(frame, (new_w, new_h), interpolation=cv2.INTER_LINEAR), dtype=np.uint8
        )
    top, bottom = round(dh - 0.1), round(dh + 0.1)
    left, right = round(dw - 0.1), round(dw + 0.1)
    padded = cv2.copyMakeBorder(
        frame, top, bottom, left, right, cv2.BORDER_CONSTANT, value=(fill, fill, fill)
    )
    # Boxes map back with the per-axis gain of the rounded size and the left/top pad,
    # as Ultralytics' scale_boxes does, so both give the same source-frame boxes.
    transform = FrameTransform(
        gain_x=new_w / src_w,
        gain_y=new_h / src_h,
        pad_x=float(left),
        pad_y=float(top),
        source_width=src_w,
        source_height=src_h,
    )
    return np.asarray(padded, dtype=np.uint8), transform
