"""Camera sources: OpenCV capture with reconnect backoff, newest-frame delivery, motion gating.

Raw frames stay on the device: nothing here sends or exports a frame, and a
camera's ``share_frames`` flag (off by default) is the only switch that may
ever allow it.
"""

from edge_agent.sources.camera import CameraSource, open_camera
from edge_agent.sources.capture import Capture, CaptureFactory, SourceKind, open_capture
from edge_agent.sources.config import BackoffConfig, CameraConfig, MotionConfig
from edge_agent.sources.events import Frame, Offline, SourceEvent
from edge_agent.sources.motion import MotionGate
from edge_agent.sources.stream import CameraUnavailableError, StreamReader

__all__ = [
    "BackoffConfig",
    "CameraConfig",
    "CameraSource",
    "CameraUnavailableError",
    "Capture",
    "CaptureFactory",
    "Frame",
    "MotionConfig",
    "MotionGate",
    "Offline",
    "SourceEvent",
    "SourceKind",
    "StreamReader",
    "open_camera",
    "open_capture",
]
