"""OpenCV capture behind a small interface, so reconnect logic is testable."""

from __future__ import annotations

import enum
import re
from collections.abc import Callable
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit, urlunsplit

import cv2
import numpy as np
import numpy.typing as npt

from edge_agent.errors import AgentValueError

_STREAM_SCHEMES = frozenset({"rtsp", "rtsps", "rtmp", "http", "https"})
_V4L2_DEVICE = re.compile(r"^/dev/video(\d+)$")


class SourceKind(enum.Enum):
    FILE = "file"
    STREAM = "stream"
    DEVICE = "device"


class Capture(Protocol):
    """The part of ``cv2.VideoCapture`` the sources use."""

    def is_open(self) -> bool: ...

    def read(self) -> tuple[bool, npt.NDArray[np.uint8] | None]: ...

    def grab(self) -> bool: ...

    def fps(self) -> float: ...

    def release(self) -> None: ...


CaptureFactory = Callable[[str | int, float, float], Capture]
"""``(url, open_timeout_s, read_timeout_s) -> Capture``; may raise ``OSError``."""


def source_kind(url: str | int) -> SourceKind:
    """Classify a camera URL; an unknown scheme is an error naming it."""
    if isinstance(url, int) or _V4L2_DEVICE.match(url):
        return SourceKind.DEVICE
    scheme = urlsplit(url).scheme.lower()
    if scheme in _STREAM_SCHEMES:
        return SourceKind.STREAM
    if scheme in ("", "file") or len(scheme) == 1:  # a Windows drive letter reads as a scheme
        return SourceKind.FILE
    raise AgentValueError(
        f"unsupported camera URL scheme {scheme!r} (use a file path, "
        f"{', '.join(sorted(s + '://' for s in _STREAM_SCHEMES))}, /dev/videoN or an index)"
    )


def redact_url(url: str | int) -> str:
    """The URL with any password hidden, for logs and errors."""
    if isinstance(url, int):
        return str(url)
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username}:***@{parts.hostname}"
    if parts.port is not None:
        netloc += f":{parts.port}"
    return urlunsplit(parts._replace(netloc=netloc))


class OpenCvCapture:
    """``cv2.VideoCapture`` adapted to :class:`Capture`."""

    def __init__(self, capture: cv2.VideoCapture) -> None:
        self._capture = capture

    def is_open(self) -> bool:
        return bool(self._capture.isOpened())

    def read(self) -> tuple[bool, npt.NDArray[np.uint8] | None]:
        ok, image = self._capture.read()
        if not ok or image is None:
            return False, None
        return True, np.asarray(image, dtype=np.uint8)

    def grab(self) -> bool:
        return bool(self._capture.grab())

    def fps(self) -> float:
        value = float(self._capture.get(cv2.CAP_PROP_FPS))
        return value if np.isfinite(value) and value > 0.0 else 0.0

    def release(self) -> None:
        self._capture.release()


def open_capture(url: str | int, open_timeout_s: float, read_timeout_s: float) -> Capture:
    """Open ``url`` with the backend that fits it (FFmpeg for files/streams, V4L2 for devices)."""
    kind = source_kind(url)
    if kind is SourceKind.DEVICE:
        index = url if isinstance(url, int) else int(_V4L2_DEVICE.match(str(url)).group(1))  # type: ignore[union-attr]
        return OpenCvCapture(cv2.VideoCapture(index, cv2.CAP_V4L2))
    target = str(url)
    if kind is SourceKind.FILE:
        target = urlsplit(target).path if target.startswith("file:") else target
        if not Path(target).is_file():
            raise FileNotFoundError(target)
        return OpenCvCapture(cv2.VideoCapture(target, cv2.CAP_FFMPEG))
    params = [
        cv2.CAP_PROP_OPEN_TIMEOUT_MSEC,
        int(open_timeout_s * 1000),
        cv2.CAP_PROP_READ_TIMEOUT_MSEC,
        int(read_timeout_s * 1000),
    ]
    return OpenCvCapture(cv2.VideoCapture(target, cv2.CAP_FFMPEG, params))
