"""The worker's fatal error of issue 14, item 1, at its root, against a real Redis: kombu 5.7.0's Redis QoS
restores a channel's unacknowledged messages when the channel closes, through a connection pool it builds
from ``transport.client``; after Celery's consumer collected the lost connection (``transport.client`` is
None) that is ``AttributeError: 'NoneType' object has no attribute 'hostname'``, which kills the worker.
app/celery_redis.py leaves the messages in Redis's ``unacked`` hash instead; restore_visible brings them back."""
import time

import pytest
import redis
from kombu import Connection, Exchange, Queue

from tests import harness


@pytest.fixture
def redis_url(tmp_path):
    server = harness.start_redis(str(tmp_path))
    yield server.url
    server.stop()


def _deliver_then_lose_the_transport(url, transport):
    queue = Queue("restore-check", Exchange("restore-check"), "restore-check")
    with Connection(url) as publisher:
        publisher.Producer().publish({"n": 1}, exchange=queue.exchange, routing_key=queue.routing_key,
                                     declare=[queue])
    connection = Connection(url, transport=transport, transport_options={"visibility_timeout": 1})
    channel = connection.channel()
    consumer = connection.Consumer(queue, channel=channel, callbacks=[lambda body, message: None])
    consumer.qos(prefetch_count=1)
    consumer.consume()
    connection.drain_events(timeout=5)  # taken, not acknowledged (task_acks_late)
    assert len(channel.qos._delivered) == 1
    connection._do_close_transport()  # the last step of Connection.collect() on a connection loss
    return channel, queue


def test_stock_transport_crashes_as_the_worker_did(redis_url):
    channel, _ = _deliver_then_lose_the_transport(redis_url, None)
    with pytest.raises(AttributeError, match="'NoneType' object has no attribute 'hostname'"):
        channel.close()


def test_portal_transport_leaves_the_message_in_redis_and_it_comes_back(redis_url):
    channel, queue = _deliver_then_lose_the_transport(redis_url, "app.celery_redis:Transport")
    channel.close()  # no AttributeError
    client = redis.Redis.from_url(redis_url)
    assert client.hlen("unacked") == 1 and client.llen(queue.name) == 0
    time.sleep(1.5)  # older than the visibility timeout: the next worker's sweep queues it again
    with Connection(redis_url, transport="app.celery_redis:Transport",
                    transport_options={"visibility_timeout": 1}) as connection:
        connection.default_channel.qos.restore_visible(num=10, interval=1)
    assert client.hlen("unacked") == 0 and client.llen(queue.name) == 1
