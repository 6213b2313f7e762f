"""``fieldproof agent view``: where the running agent's local view is, and whether it answers.

The view is served by ``agent run`` itself (``view.enabled``): the agent holds the
camera, its frames, detections and counts, and applies line changes to the running
camera, so no frame is handed to another process or written anywhere for the view.
This command reads the config, checks that the view answers and prints its address
(or opens it in a browser).
"""

from __future__ import annotations

import argparse
import json
import urllib.error
import urllib.request
from pathlib import Path

from fieldproof.cli import fail

TIMEOUT_S = 5.0


def register_agent(agent: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    view = agent.add_parser(
        "view",
        help="Print the address of the running agent's local view (frames, lines, counts).",
        description="Check that the agent started with this config serves its local view "
        "(view.enabled: true) and print its address; exit 1 when it does not answer.",
    )
    view.add_argument("--config", required=True, type=Path, help="agent.yaml")
    view.add_argument("--open", action="store_true", help="open the view in a web browser")
    view.add_argument("--json", action="store_true", help="print one JSON object")
    view.set_defaults(handler=_view)


def view_url(bind: str, port: int) -> str:
    """The address to reach a view bound to ``bind:port`` from this machine."""
    host = "127.0.0.1" if bind in ("0.0.0.0", "", "::") else bind
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}/"


def _view(args: argparse.Namespace) -> int:
    from edge_agent.config import load_agent_config

    config = load_agent_config(args.config)
    url = view_url(config.view.bind, config.view.port)
    if not config.view.enabled:
        return fail(f"{args.config}: the view is off; set view.enabled: true and restart the agent")
    try:
        with urllib.request.urlopen(url + "api/state", timeout=TIMEOUT_S) as response:
            state = json.loads(response.read())
    except (urllib.error.URLError, OSError, ValueError) as exc:
        return fail(f"no view answers at {url} ({exc}); is `fieldproof agent run` running?")
    cameras = [camera["name"] for camera in state.get("cameras", [])]
    if args.json:
        print(json.dumps({"url": url, "cameras": cameras}))
    else:
        print(f"{url}  ({len(cameras)} camera(s): {', '.join(cameras) or 'none yet'})")
    if args.open:
        import webbrowser

        webbrowser.open(url)
    return 0
