"""The broker fixture delivers QoS1 messages with the settings we ship."""

from __future__ import annotations

import threading

import paho.mqtt.client as mqtt

from tests.services.mosquitto import MosquittoBroker


def test_broker_round_trips_a_qos1_message(mosquitto: MosquittoBroker) -> None:
    received = threading.Event()
    payloads: list[bytes] = []

    def on_message(client: mqtt.Client, userdata: object, message: mqtt.MQTTMessage) -> None:
        payloads.append(message.payload)
        received.set()

    subscriber = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    subscriber.on_message = on_message
    subscriber.connect("127.0.0.1", mosquitto.port)
    subscriber.subscribe("fp/v1/test/report", qos=1)
    subscriber.loop_start()
    publisher = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    publisher.connect("127.0.0.1", mosquitto.port)
    publisher.loop_start()
    try:
        publisher.publish("fp/v1/test/report", b"hello", qos=1).wait_for_publish(5)
        assert received.wait(5)
        assert payloads == [b"hello"]
    finally:
        publisher.loop_stop()
        subscriber.loop_stop()
