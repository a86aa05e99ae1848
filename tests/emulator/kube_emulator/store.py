"""The object store: etcd's role, reduced to a dict behind one lock.

* Objects are stored per (group, resource), keyed by (namespace, name).
* ``resourceVersion`` is one global counter, as with etcd's revision: every
  stored change takes the next value; reads never bump it.
* Every change is appended to a bounded event history so that watches can
  resume from a ``resourceVersion``; a watch from a version older than the
  history answers ``410 Gone`` like a compacted etcd.
"""

from __future__ import annotations

import collections
import copy
import threading
import time
from typing import Callable, Iterator

StoreKey = tuple[str, str]  # (group, plural)

HISTORY = 20000


class Event:
    __slots__ = ("rv", "type", "key", "namespace", "object")

    def __init__(self, rv: int, type_: str, key: StoreKey, namespace: str, obj: dict):
        self.rv, self.type, self.key, self.namespace, self.object = rv, type_, key, namespace, obj


class Store:
    def __init__(self) -> None:
        self.lock = threading.RLock()
        self._changed = threading.Condition(self.lock)
        self._objects: dict[StoreKey, dict[tuple[str, str], dict]] = {}
        self._rv = 1
        self._history: collections.deque[Event] = collections.deque(maxlen=HISTORY)
        self._closed = False

    # -- versions -----------------------------------------------------------------

    @property
    def resource_version(self) -> int:
        with self.lock:
            return self._rv

    def next_rv(self) -> int:
        with self.lock:
            self._rv += 1
            return self._rv

    # -- reads ----------------------------------------------------------------------

    def get(self, key: StoreKey, namespace: str, name: str) -> dict | None:
        with self.lock:
            obj = self._objects.get(key, {}).get((namespace, name))
            return copy.deepcopy(obj) if obj is not None else None

    def list(self, key: StoreKey, namespace: str | None = None) -> list[dict]:
        """Objects of one resource, in one namespace or all; sorted like etcd keys."""
        with self.lock:
            items = [(k, o) for k, o in self._objects.get(key, {}).items()
                     if namespace is None or k[0] == namespace]
            return [copy.deepcopy(o) for _, o in sorted(items, key=lambda kv: kv[0])]

    def namespaces_in_use(self, namespace: str) -> list[StoreKey]:
        with self.lock:
            return [key for key, objs in self._objects.items() if any(ns == namespace for ns, _ in objs)]

    # -- writes ---------------------------------------------------------------------

    def put(self, key: StoreKey, obj: dict, event_type: str) -> dict:
        """Store ``obj`` (its resourceVersion already set by the caller)."""
        meta = obj["metadata"]
        with self.lock:
            self._objects.setdefault(key, {})[(meta.get("namespace", ""), meta["name"])] = obj
            self._record(event_type, key, obj)
            return copy.deepcopy(obj)

    def remove(self, key: StoreKey, namespace: str, name: str) -> dict | None:
        with self.lock:
            obj = self._objects.get(key, {}).pop((namespace, name), None)
            if obj is not None:
                obj = copy.deepcopy(obj)
                obj["metadata"]["resourceVersion"] = str(self.next_rv())
                self._record("DELETED", key, obj)
            return obj

    def _record(self, event_type: str, key: StoreKey, obj: dict) -> None:
        rv = int(obj["metadata"]["resourceVersion"])
        self._history.append(Event(rv, event_type, key, obj["metadata"].get("namespace", ""),
                                   copy.deepcopy(obj)))
        self._changed.notify_all()

    # -- watch ----------------------------------------------------------------------

    def oldest_watchable(self) -> int:
        with self.lock:
            return self._history[0].rv - 1 if len(self._history) == HISTORY else 0

    def events_since(self, key: StoreKey, namespace: str | None, since: int,
                     deadline: float, keep: Callable[[Event], bool]) -> Iterator[Event | None]:
        """Yield matching events with rv > ``since`` until ``deadline`` or close.

        Yields ``None`` about once a second while idle, so the HTTP layer can
        notice a client that went away.
        """
        last = since
        while True:
            with self.lock:
                if self._closed or time.monotonic() >= deadline:
                    return
                pending = [e for e in self._history if e.rv > last]
                if not pending:
                    self._changed.wait(max(0.0, min(deadline - time.monotonic(), 1.0)))
                    pending = [e for e in self._history if e.rv > last]
            if not pending:
                yield None
                continue
            for event in pending:
                last = event.rv
                if event.key == key and (namespace is None or event.namespace == namespace) and keep(event):
                    yield event

    def close(self) -> None:
        with self.lock:
            self._closed = True
            self._changed.notify_all()
