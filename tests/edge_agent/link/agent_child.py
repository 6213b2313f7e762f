"""An agent in its own process for crash tests: ``python -m tests.edge_agent.link.agent_child``.

Arguments: CONFIG KEY_SECRET COUNT. Submits COUNT reports (0: until killed), printing each
committed seq; with a finite COUNT it then waits for the outbox to drain and prints
``drained``.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from edge_agent.agent import Agent
from edge_agent.config import load_agent_config
from fieldproof.identity import DeviceKey
from fieldproof.wire import Record


def main() -> int:
    config = load_agent_config(Path(sys.argv[1]))
    key = DeviceKey.from_secret(int(sys.argv[2]))
    count = int(sys.argv[3])
    agent = Agent(config, key)
    agent.start()
    produced = 0
    while count == 0 or produced < count:
        now = int(time.time())
        seq = agent.submit(now - 60, now, (Record("temperature", value=20.0 + produced % 10),))
        print(seq, flush=True)
        produced += 1
        time.sleep(0.005)
    ok = agent.link.wait_drained(30)
    print("drained" if ok else "not drained", flush=True)
    agent.stop()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
