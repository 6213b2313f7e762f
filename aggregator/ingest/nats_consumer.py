"""The NATS JetStream side of ingest: nats-py's event loop in its own thread, feeding the
same bounded queue as the MQTT consumer.

Devices publish over MQTT to any node of the cluster; the nodes map ``fp/v1/<d>/report``
to the subject ``fp.v1.<d>.report``, which a stream keeps (file storage, replicated).
Every aggregator process pulls from one durable consumer with explicit acks: a message
is acknowledged only after the batch holding it is committed (:meth:`ack`, called by the
writer), and one not acknowledged within ``ack_wait_s`` is delivered again, to whichever
process pulls next. Pulls ask for no more than the queue has room for, so a slow ledger
holds messages in the stream, not in memory.

Acks to devices go out as plain NATS messages on ``fp.v1.<d>.ack``, which the node the
device is connected to delivers to its MQTT subscription (at QoS 0: a lost one costs the
device a resend after its ack timeout, never a report).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import nats
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.errors import TimeoutError as NatsTimeout
from nats.js.api import (
    AckPolicy,
    ConsumerConfig,
    DeliverPolicy,
    RetentionPolicy,
    StorageType,
    StreamConfig,
)
from nats.js.client import JetStreamContext
from nats.js.errors import NotFoundError

from aggregator.config import MqttConfig, NatsConfig, nats_servers
from aggregator.ingest.consumer import Message, default_client_id
from fieldproof.backoff import Backoff, BackoffPolicy
from fieldproof.protocol import TopicKind

log = logging.getLogger(__name__)

# The device subjects the stream holds (``fp/v1/+/report`` as NATS writes it).
STREAM_KINDS = (TopicKind.REPORT, TopicKind.STATUS, TopicKind.HEALTH)
# How long one pull waits for messages before asking again.
PULL_WAIT_S = 1.0


def subject_of(topic: str) -> str:
    """The NATS subject of an MQTT topic (device ids hold no dots)."""
    return topic.replace("/", ".")


def topic_of(subject: str) -> str:
    """The MQTT topic of a NATS subject."""
    return subject.replace(".", "/")


def stream_subjects() -> list[str]:
    return [f"fp.v1.*.{kind.value}" for kind in STREAM_KINDS]


def stream_config(config: NatsConfig) -> StreamConfig:
    """The stream the aggregator creates when there is none: work-queue retention (an
    acknowledged message is gone; the ledger is the record), file storage."""
    return StreamConfig(
        name=config.stream,
        subjects=stream_subjects(),
        retention=RetentionPolicy.WORK_QUEUE,
        storage=StorageType.FILE,
        num_replicas=config.replicas,
        max_age=config.max_age_days * 86_400,
    )


def consumer_config(config: NatsConfig) -> ConsumerConfig:
    return ConsumerConfig(
        durable_name=config.consumer,
        ack_policy=AckPolicy.EXPLICIT,
        deliver_policy=DeliverPolicy.ALL,
        ack_wait=config.ack_wait_s,
        max_ack_pending=config.max_ack_pending,
        max_deliver=-1,  # a message is never given up on: the ledger dedupes
    )


class NatsConsumer:
    """Receives into ``sink`` (bounded); :meth:`ack` after commit. Same face as
    :class:`~aggregator.ingest.consumer.MqttConsumer`."""

    def __init__(
        self,
        config: MqttConfig,
        nats_config: NatsConfig,
        sink: queue.Queue[Message],
        *,
        prepare: Callable[[str, bytes, float], Any] | None = None,
    ) -> None:
        self.config = config
        self.nats = nats_config
        self.sink = sink
        self.prepare = prepare
        self.servers = nats_servers(config.url)
        self.client_id = config.client_id or default_client_id()
        self.connected = threading.Event()
        self._stopping = threading.Event()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name="nats-ingest", daemon=True)
        self._nc: Client | None = None
        self._mids = itertools.count(1)
        # mid -> the delivery it names; only the event loop thread touches it.
        self._deliveries: dict[int, Msg] = {}
        self._lock = threading.Lock()
        self.pulled = 0

    # -- control (any thread) ------------------------------------------------------------

    def start(self) -> None:
        self._thread.start()

    def wait_connected(self, timeout: float) -> bool:
        return self.connected.wait(timeout)

    def ack(self, messages: Sequence[Message]) -> None:
        """Acknowledge committed messages. A delivery that timed out meanwhile was sent
        again; acking the old one is harmless and the new one is a ledger duplicate."""
        mids = [message.mid for message in messages]
        if mids and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._ack_now, mids)

    def publish(self, topic: str, payload: bytes) -> None:
        """Send ``payload`` on the subject of ``topic``; buffered while reconnecting."""
        if not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._publish_now, subject_of(topic), payload)

    def stop(self) -> None:
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join(15)

    # -- the event loop thread -----------------------------------------------------------

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._main())
        except Exception:
            log.exception("nats ingest loop ended")
        finally:
            self.connected.clear()
            self._loop.close()

    def _ack_now(self, mids: list[int]) -> None:
        for mid in mids:
            delivery = self._deliveries.pop(mid, None)
            if delivery is not None:
                self._loop.create_task(self._ack_one(delivery))

    async def _ack_one(self, delivery: Msg) -> None:
        try:
            await delivery.ack()
        except Exception as exc:
            # Redelivered after ack_wait and dropped as a duplicate by the ledger.
            log.debug("ack failed (%s); the message comes again", exc)

    def _publish_now(self, subject: str, payload: bytes) -> None:
        if self._nc is not None:
            self._loop.create_task(self._publish_one(subject, payload))

    async def _publish_one(self, subject: str, payload: bytes) -> None:
        try:
            assert self._nc is not None
            await self._nc.publish(subject, payload)
        except Exception as exc:
            log.warning("ack to %s not sent (%s); the device resends", subject, exc)

    async def _connect(self) -> Client:
        backoff = Backoff(BackoffPolicy(0.2, 5.0, jitter=0.2))
        while True:
            try:
                return await nats.connect(
                    servers=self.servers,
                    name=self.client_id,
                    user=self.config.username,
                    password=self.config.password,
                    connect_timeout=2,
                    max_reconnect_attempts=-1,
                    reconnect_time_wait=0.5,
                    ping_interval=5,
                    max_outstanding_pings=3,
                    disconnected_cb=self._on_disconnected,
                    reconnected_cb=self._on_reconnected,
                    error_cb=self._on_error,
                )
            except Exception as exc:
                if self._stopping.is_set():
                    raise
                log.warning("no NATS server reached (%s); retrying", exc)
                await asyncio.sleep(backoff.next_delay())

    async def _on_disconnected(self) -> None:
        self.connected.clear()
        if not self._stopping.is_set():
            log.warning("disconnected from NATS; reconnecting")

    async def _on_reconnected(self) -> None:
        log.info("reconnected to NATS")

    async def _on_error(self, exc: Exception) -> None:
        log.info("nats: %s", exc)

    async def _ensure(self, js: JetStreamContext) -> None:
        """The stream and the consumer, created when missing (idempotent, so processes
        starting together agree)."""
        try:
            await js.stream_info(self.nats.stream)
        except NotFoundError:
            await js.add_stream(stream_config(self.nats))
        try:
            await js.consumer_info(self.nats.stream, self.nats.consumer)
        except NotFoundError:
            await js.add_consumer(self.nats.stream, consumer_config(self.nats))

    async def _main(self) -> None:
        try:
            nc = self._nc = await self._connect()
        except Exception:
            return
        js = nc.jetstream(timeout=5)
        backoff = Backoff(BackoffPolicy(0.2, 5.0, jitter=0.2))
        subscription = None
        while not self._stopping.is_set():
            try:
                if subscription is None:
                    # JetStream needs a meta leader: right after a cluster (re)start it
                    # answers "unavailable" for a while.
                    await self._ensure(js)
                    subscription = await js.pull_subscribe_bind(
                        self.nats.consumer, self.nats.stream
                    )
                room = self.sink.maxsize - self.sink.qsize() if self.sink.maxsize > 0 else 0
                if self.sink.maxsize > 0 and room <= 0:
                    await asyncio.sleep(0.01)  # backpressure: the stream holds the rest
                    continue
                wanted = min(self.nats.fetch_batch, room) if room > 0 else self.nats.fetch_batch
                batch = await subscription.fetch(wanted, timeout=PULL_WAIT_S)
            except NatsTimeout:
                self.connected.set()  # the pull was answered: nothing waits
                backoff.reset()
                continue
            except Exception as exc:
                if self._stopping.is_set():
                    break
                log.warning("pull from %s failed (%s); retrying", self.nats.consumer, exc)
                await asyncio.sleep(backoff.next_delay())
                continue
            self.connected.set()
            backoff.reset()
            self._deliver(batch)
        # Let the last acks go out; what is not acked is delivered again after ack_wait.
        await asyncio.sleep(0)
        try:
            await nc.flush(timeout=2)
        except Exception as exc:
            log.info("final flush failed (%s)", exc)
        await nc.close()

    def _deliver(self, batch: list[Msg]) -> None:
        for delivery in batch:
            topic, payload, received_at = topic_of(delivery.subject), delivery.data, time.time()
            verdict = self.prepare(topic, payload, received_at) if self.prepare else None
            mid = next(self._mids)
            self._deliveries[mid] = delivery
            self.pulled += 1
            # Room was checked before the pull and only this thread fills the queue.
            self.sink.put(Message(topic, payload, mid, 1, received_at, 0, verdict))
