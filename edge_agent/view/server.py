"""The view's HTTP server (standard library): a page, its state as JSON, frames, lines.

Who asks decides what is served. A client on the loopback sees every camera's frames
as captured and may place lines. Any other client sees a camera's frames only where
its config has ``share_frames``, blurred unless ``redact_shared_frames`` is off, and
may not change anything. Requests naming a host other than an IP address or
``localhost`` are refused, so a web page cannot reach the view by rebinding its own
name to the loopback; changes need a JSON body, which a cross-site form cannot send.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import socket
import threading
import urllib.parse
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import cv2

from edge_agent.sources.config import CameraConfig
from edge_agent.view.board import FrameShot, ViewBoard
from edge_agent.view.config import ViewConfig
from edge_agent.view.lines import LineEditError, LineEditor
from edge_agent.view.redact import redact

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).parent / "static"
STATIC_FILES = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/view.js": ("view.js", "text/javascript; charset=utf-8"),
    "/view.css": ("view.css", "text/css; charset=utf-8"),
}
MAX_BODY = 16 * 1024


def is_loopback(host: str) -> bool:
    """Whether the peer address ``host`` is this machine's loopback."""
    try:
        address = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)
    return bool(address.is_loopback or (mapped is not None and mapped.is_loopback))


def _host_allowed(header: str | None) -> bool:
    if not header:
        return False
    host = urllib.parse.urlsplit(f"//{header}").hostname or ""
    if host == "localhost":
        return True
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


class ViewServer:
    """Serves the view of ``board`` from a daemon thread; ``editor`` applies line changes.

    ``local_peer`` says whether a peer address counts as this machine (the loopback).
    """

    def __init__(
        self,
        config: ViewConfig,
        board: ViewBoard,
        editor: LineEditor,
        *,
        local_peer: Callable[[str], bool] = is_loopback,
    ) -> None:
        self.config = config
        self.board = board
        self.editor = editor
        self.local_peer = local_peer
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        if self._server is None:
            return self.config.port
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        host = self.config.bind
        if host in ("0.0.0.0", "::", ""):
            host = "127.0.0.1"
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}/"

    def start(self) -> None:
        if self._server is not None:
            return
        handler = _handler_class(self)
        server_class = _V6Server if ":" in self.config.bind else ThreadingHTTPServer
        self._server = server_class((self.config.bind, self.config.port), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="view", daemon=True)
        self._thread.start()
        log.info("view at %s", self.url)

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    # -- what a client gets ------------------------------------------------------------

    def state(self, local: bool) -> dict[str, Any]:
        self.board.watch()
        cameras = []
        for name in self.board.cameras():
            state = self.board.state(name)
            if state is None:
                continue
            frames = local or state["share_frames"]
            state["frame"] = "available" if frames else "withheld"
            state["redacted"] = not local and state["redact_shared_frames"]
            if not frames:
                # Where objects stand is part of the picture: withheld with it.
                state["detections"], state["tracks"] = [], []
                state["frame_at"] = None
            cameras.append(state)
        return {"local": local, "editable": local, "cameras": cameras}

    def frame(self, camera: str, local: bool) -> tuple[int, bytes, str]:
        shot: FrameShot | None = self.board.shot(camera)
        self.board.watch()
        if shot is None:
            known = camera in self.board.cameras()
            status = HTTPStatus.SERVICE_UNAVAILABLE if known else HTTPStatus.NOT_FOUND
            return _text(status, "no frame yet" if known else f"no camera {camera!r}")
        image = shot.image
        if not local:
            if not shot.camera.share_frames:
                return _text(HTTPStatus.FORBIDDEN, f"camera {camera}: frames stay on the device")
            if shot.camera.redact_shared_frames:
                image = redact(image, shot.sensitive)
        ok, encoded = cv2.imencode(
            ".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, self.config.jpeg_quality]
        )
        if not ok:
            return _text(HTTPStatus.INTERNAL_SERVER_ERROR, "frame could not be encoded")
        return HTTPStatus.OK, encoded.tobytes(), "image/jpeg"


class _V6Server(ThreadingHTTPServer):
    address_family = socket.AF_INET6


def _text(status: int, message: str) -> tuple[int, bytes, str]:
    return status, json.dumps({"detail": message}).encode(), "application/json"


def _handler_class(view: ViewServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "fieldproof-view"
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            log.debug("view %s: " + format, self.client_address[0], *args)

        def _local(self) -> bool:
            return view.local_peer(str(self.client_address[0]))

        def _send(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.send_header("X-Content-Type-Options", "nosniff")
            self.send_header("Referrer-Policy", "no-referrer")
            self.end_headers()
            self.wfile.write(body)

        def _json(self, status: int, value: Any) -> None:
            self._send(status, json.dumps(value).encode(), "application/json")

        def _guard(self) -> bool:
            if not _host_allowed(self.headers.get("Host")):
                self._json(HTTPStatus.FORBIDDEN, {"detail": "use the view by IP or localhost"})
                return False
            return True

        def do_GET(self) -> None:
            if not self._guard():
                return
            path = urllib.parse.urlsplit(self.path).path
            if path in STATIC_FILES:
                name, content_type = STATIC_FILES[path]
                self._send(HTTPStatus.OK, (STATIC_DIR / name).read_bytes(), content_type)
                return
            if path == "/api/state":
                self._json(HTTPStatus.OK, view.state(self._local()))
                return
            parts = path.strip("/").split("/")
            if len(parts) == 4 and parts[:2] == ["api", "cameras"] and parts[3] == "frame.jpg":
                camera = urllib.parse.unquote(parts[2])
                self._send(*view.frame(camera, self._local()))
                return
            self._json(HTTPStatus.NOT_FOUND, {"detail": f"no such page: {path}"})

        def _change(self) -> tuple[str, list[str]] | None:
            """The camera and the rest of the path of a permitted change, else None."""
            if not self._guard():
                return None
            if not self._local():
                self._json(HTTPStatus.FORBIDDEN, {"detail": "lines change only from this machine"})
                return None
            origin = self.headers.get("Origin")
            if origin is not None and urllib.parse.urlsplit(origin).netloc != self.headers.get(
                "Host"
            ):
                self._json(HTTPStatus.FORBIDDEN, {"detail": "cross-site request refused"})
                return None
            parts = urllib.parse.urlsplit(self.path).path.strip("/").split("/")
            if len(parts) < 4 or parts[:2] != ["api", "cameras"] or parts[3] != "lines":
                self._json(HTTPStatus.NOT_FOUND, {"detail": "no such resource"})
                return None
            return urllib.parse.unquote(parts[2]), [urllib.parse.unquote(p) for p in parts[4:]]

        def _edited(self, edit: Callable[[], CameraConfig]) -> None:
            try:
                camera = edit()
            except LineEditError as exc:
                self._json(exc.status, {"detail": str(exc)})
                return
            view.board.set_pending(camera)
            self._json(HTTPStatus.OK, view.state(True))

        def do_POST(self) -> None:
            target = self._change()
            if target is None:
                return
            camera, rest = target
            if rest:
                self._json(HTTPStatus.NOT_FOUND, {"detail": "no such resource"})
                return
            content_type = (self.headers.get("Content-Type") or "").split(";")[0].strip()
            if content_type != "application/json":
                self._json(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, {"detail": "send JSON"})
                return
            length = int(self.headers.get("Content-Length") or 0)
            if not 0 < length <= MAX_BODY:
                self._json(HTTPStatus.BAD_REQUEST, {"detail": "body missing or too large"})
                return
            try:
                body = json.loads(self.rfile.read(length))
            except (ValueError, UnicodeDecodeError):
                self._json(HTTPStatus.BAD_REQUEST, {"detail": "body is not JSON"})
                return
            self._edited(lambda: view.editor.place(camera, body))

        def do_DELETE(self) -> None:
            target = self._change()
            if target is None:
                return
            camera, rest = target
            if len(rest) != 1:
                self._json(HTTPStatus.NOT_FOUND, {"detail": "name the line to remove"})
                return
            self._edited(lambda: view.editor.remove(camera, rest[0]))

    return Handler
