"""Celery's Redis transport, with one guard (issue 14, item 1; config.py CELERY explains the setting).

kombu 5.7.0 (the newest release) kills the worker when Redis goes away while a late-acknowledged task is
in flight: Celery's consumer collects the broken connection (Connection.collect() drops the channel's
connection pools and sets ``transport.client`` to None), then closes the task consumer's channel, whose
QoS restores the unacknowledged messages through a fresh pool built from ``transport.client.hostname``:
``AttributeError: 'NoneType' object has no attribute 'hostname'``, which Celery reports as an
"Unrecoverable error" and exits. (The same path as celery/kombu#582 and #970.)

The local restore is only a shortcut: kombu's Redis QoS keeps every delivered, unacknowledged message in
Redis (the ``unacked`` hash and ``unacked_index``), and each worker's poll loop puts back the ones older
than ``visibility_timeout`` (``restore_visible``). So when the connection is already gone the guard
leaves them there and the worker goes on reconnecting; with Redis down the local restore could not
have reached Redis anyway.
"""
import logging

from kombu.transport import redis as kombu_redis

log = logging.getLogger(__name__)


class QoS(kombu_redis.QoS):
    def restore_unacked_once(self, stderr=None):
        transport = getattr(self.channel, "connection", None)
        if transport is None or getattr(transport, "client", None) is None:
            self._on_collect.cancel()
            if self._delivered:
                log.warning("broker connection gone: %d unacknowledged message(s) stay in Redis and are "
                            "restored after the visibility timeout", len(self._delivered))
            self._delivered.clear()
            self._delivered.restored = True
            return None
        try:
            return super().restore_unacked_once(stderr)
        except AttributeError:  # the connection went away while restoring: same as above
            log.warning("broker connection gone while restoring unacknowledged messages: they stay in Redis")
            self._delivered.restored = True
            return None


class Channel(kombu_redis.Channel):
    QoS = QoS


class Transport(kombu_redis.Transport):
    Channel = Channel
