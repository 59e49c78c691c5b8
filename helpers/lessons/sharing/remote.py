"""The Redis strategy: the numbers live in a server; every operation is a network round trip.

Introduced in 05_sharing_memory.ipynb. The array is one Redis string of raw bytes, 8 per
item, big-endian (the byte order Redis's BITFIELD command reads integers in). GETRANGE and
SETRANGE read and write one item; BITFIELD INCRBY adds to one item on the server, in one
step, so no update can be lost and no lock is needed. The server is a private one started
by helpers.servers.redis and stopped when the store is destroyed.
"""

from __future__ import annotations

import numpy as np

from ...servers.redis import HOW_TO_GET_REDIS, RedisServer, find_redis_server, start_redis
from .base import ITEM_BYTES, Shared

_BIG_ENDIAN_INT64 = np.dtype(">i8")


class RedisBytes(Shared):
    """n int64 items as raw bytes in one Redis string."""

    name = "redis"
    shares = "bytes (you serialise: raw bytes, pickle, JSON); also counters, lists, hashes, sets"
    across_machines = "yes: a server on the network (this one listens only locally)"
    cleanup = "stop the server, or delete the keys (this private server stops with its store)"
    protected_by = "nothing needed: BITFIELD INCRBY adds on the server, in one step"
    copies_on_read = True  # GET of the whole value brings a full copy into the reader
    key = "data"

    def __init__(self, n: int, client, server: RedisServer | None = None, *, owner: bool) -> None:
        super().__init__(n, owner=owner)
        self.client, self.server = client, server

    @classmethod
    def unavailable(cls) -> str:
        return "" if find_redis_server() else HOW_TO_GET_REDIS

    @classmethod
    def allocate(cls, n, context):
        server = start_redis()
        try:
            return cls(n, server.client(), server, owner=True)
        except BaseException:
            server.stop()
            raise

    def handle(self):
        return (self.server.address, self.n)  # redis://127.0.0.1:<port> or unix://<socket>

    @classmethod
    def attach(cls, handle):
        import redis

        address, n = handle
        return cls(n, redis.Redis.from_url(address), owner=False)

    def get(self, i):
        raw = self.client.getrange(self.key, i * ITEM_BYTES, i * ITEM_BYTES + ITEM_BYTES - 1)
        return int.from_bytes(raw, "big", signed=True)

    def set(self, i, value):
        self.client.setrange(self.key, i * ITEM_BYTES, int(value).to_bytes(8, "big", signed=True))

    def increment_safely(self, i, lock):
        self.client.execute_command("BITFIELD", self.key, "INCRBY", "i64", f"#{i}", 1)

    def put(self, start, values):
        raw = values.astype(_BIG_ENDIAN_INT64).tobytes()
        self.client.setrange(self.key, start * ITEM_BYTES, raw)  # the string grows as needed

    def total(self):
        return int(np.frombuffer(self.client.get(self.key), dtype=_BIG_ENDIAN_INT64).sum())

    def snapshot(self):
        return np.frombuffer(self.client.get(self.key), dtype=_BIG_ENDIAN_INT64).astype(np.int64)

    def release(self):
        self.client.close()

    def free(self):
        self.server.stop()
