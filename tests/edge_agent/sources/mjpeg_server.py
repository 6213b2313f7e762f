"""A minimal MJPEG-over-HTTP camera (multipart/x-mixed-replace) that can go down and return."""

from __future__ import annotations

import socket
import threading
import time

import cv2

from tests.edge_agent.sources.fakes import picture


class MjpegCamera:
    """Serves sessions on one port; between sessions nothing listens (connection refused)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.sessions_served = 0
        self.listening = threading.Event()

    def serve_session(self, frames: int, fps: float, first: int = 0) -> None:
        """Accept one client, stream ``frames`` JPEGs, then close everything."""
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
            server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            server.bind(("127.0.0.1", self.port))
            server.listen(1)
            server.settimeout(10.0)
            self.listening.set()
            conn, _ = server.accept()
            self.listening.clear()
            with conn:
                conn.recv(4096)  # the client's GET
                conn.sendall(
                    b"HTTP/1.0 200 OK\r\n"
                    b"Content-Type: multipart/x-mixed-replace; boundary=frame\r\n\r\n"
                )
                for i in range(first, first + frames):
                    ok, jpeg = cv2.imencode(".jpg", cv2.resize(picture(i), (320, 240)))
                    assert ok
                    data = jpeg.tobytes()
                    header = b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n"
                    conn.sendall(header % len(data) + data + b"\r\n")
                    time.sleep(1.0 / fps)
        self.sessions_served += 1

    def run_script(self, frames: int, fps: float, down_s: float) -> threading.Thread:
        """Up for ``frames``, down for ``down_s``, up again for ``frames``; in a thread."""

        def script() -> None:
            self.serve_session(frames, fps)
            time.sleep(down_s)
            self.serve_session(frames, fps, first=frames)

        thread = threading.Thread(target=script, name="mjpeg-camera", daemon=True)
        thread.start()
        return thread
