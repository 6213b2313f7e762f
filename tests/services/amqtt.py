"""An in-process amqtt broker (MQTT 3.1.1 only) on a free loopback port.

It is the broker the demo falls back to when Mosquitto is missing, so the tests
start it the way the demo does.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from demo.broker import start_amqtt


@pytest.fixture
def amqtt_port() -> Iterator[int]:
    """Port of a fresh amqtt broker, stopped after the test."""
    broker = start_amqtt()
    try:
        yield broker.port
    finally:
        broker.stop()
