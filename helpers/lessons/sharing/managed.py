"""Strategies served by a multiprocessing Manager: a server process holds ordinary objects.

Introduced in 05_sharing_memory.ipynb. A Manager starts a server process that owns a real
dict, list or Namespace; other processes hold *proxies* that send every operation to it as
a pickled message and wait for the answer. Anything picklable can be shared, and a manager
can listen on a network address, but each operation is a round trip.
"""

from __future__ import annotations

import sys
from multiprocessing.managers import SyncManager

import numpy as np

from .base import Shared


class _Managed(Shared):
    """The parts every Manager strategy shares: start the server, hand out a proxy, shut down."""

    shares = "any picklable object"
    across_machines = "yes: a manager can listen on a TCP address (with an authkey)"
    cleanup = "manager.shutdown(), or leaving its with block, ends the server process"
    copies_on_read = True  # reading everything at once brings a full copy into the reader
    fill_chunk = 1 << 16  # items sent per message when filling: Python objects are big
    kind: str  # the manager's method that makes the shared object: "list", "dict", ...

    def __init__(self, n: int, proxy, manager=None, *, owner: bool) -> None:
        super().__init__(n, owner=owner)
        self.proxy, self.manager = proxy, manager

    @classmethod
    def allocate(cls, n, context):
        # what context.Manager() does, in two steps, so that an interrupt while the server
        # process starts still stops it
        manager = SyncManager(ctx=context)
        try:
            manager.start()
            return cls(n, getattr(manager, cls.kind)(), manager, owner=True)
        except BaseException:
            server = getattr(manager, "_process", None)  # set as soon as it was started
            if server is not None and server.is_alive():
                server.terminate()
                server.join(5)
            raise

    def handle(self):
        return (self.proxy, self.n)  # a proxy pickles to "server address + object id"

    @classmethod
    def attach(cls, handle):
        proxy, n = handle
        return cls(n, proxy, owner=False)

    def get(self, i):
        return self.proxy[i]  # one round trip

    def set(self, i, value):
        self.proxy[i] = value

    def release(self):
        self.proxy = None

    def free(self):
        self.manager.shutdown()


class ManagerList(_Managed):
    """manager.list(): a list in the manager's process; proxy[i] is one round trip."""

    name = "manager_list"
    kind = "list"
    holds = 5.0  # a list of ints: an 8-byte pointer plus a 32-byte int object per item

    def put(self, start, values):
        self.proxy.extend(values.tolist())  # create() fills in order, so this appends

    def total(self):
        return sum(self.proxy[:])  # proxy[:] copies the whole list into this process

    def snapshot(self):
        return np.array(self.proxy[:], dtype=np.int64)


class ManagerDict(_Managed):
    """manager.dict(): a dict in the manager's process; proxy[key] is one round trip."""

    name = "manager_dict"
    kind = "dict"
    holds = 13.0  # hash table entries plus an int object for every key and every value

    def put(self, start, values):
        self.proxy.update(dict(enumerate(values.tolist(), start)))  # {start: v0, start+1: v1, ...}

    def total(self):
        return sum(self.proxy.values())  # values() sends back a full list

    def snapshot(self):
        return np.array(self.proxy.values(), dtype=np.int64)  # keys went in as 0, 1, ..., n-1


class ManagerNamespace(_Managed):
    """manager.Namespace() holding a numpy array: every attribute read copies the whole array."""

    name = "manager_namespace"
    kind = "Namespace"
    holds = 2.0  # the array, plus the pickled copy the server makes to send it
    fill_chunk = sys.maxsize  # a Namespace attribute is set whole: one chunk

    def put(self, start, values):
        self.proxy.data = values  # one chunk: the whole array

    def get(self, i):
        return int(self.proxy.data[i])  # fetches the WHOLE array, then takes one item

    def set(self, i, value):
        # ns.data[i] = value would change a temporary copy and be lost: fetch, change, store
        data = self.proxy.data
        data[i] = value
        self.proxy.data = data

    def get_many(self, indices):
        data = self.proxy.data
        return [int(data[i]) for i in indices]

    def total(self):
        return int(self.proxy.data.sum())

    def snapshot(self):
        return np.array(self.proxy.data, dtype=np.int64)

