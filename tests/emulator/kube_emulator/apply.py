"""Field ownership (``metadata.managedFields``) and server-side apply.

Mirrors the structured-merge-diff behaviour of the real server, reduced to
what clients observe:

* Every write records which *field manager* owns which fields, in
  ``metadata.managedFields`` (``fieldsType: FieldsV1``).  Non-apply writes are
  ``operation: Update`` entries: the manager takes the fields it changed and
  those fields are taken away from everyone else.  The manager name is the
  ``fieldManager`` query parameter, else the ``User-Agent`` up to the first
  ``/`` (what the real server does).
* ``application/apply-patch+yaml`` (server-side apply):

  - the applied configuration is merged into the live object using the
    schema's list semantics (``x-kubernetes-list-type: map`` lists merge by
    ``x-kubernetes-list-map-keys``; ``set`` lists union; other lists and
    ``x-kubernetes-map-type: atomic`` maps are replaced whole);
  - applying a different value to a field another manager owns is a
    ``409 Conflict`` listing the fields, unless ``force=true``, which takes
    the fields over;
  - fields the manager applied last time and no longer applies are removed
    from the object unless another manager still owns them.

List-map elements are identified by their key fields *after* defaulting, as
the real server does: an applied Service or container port without
``protocol`` is the element ``k:{"port":80,"protocol":"TCP"}``, the same one
the stored (defaulted) object holds, so re-applying it, or applying it from a
second manager with the same values, is neither a conflict nor a second item.
The key defaults come from the schema (:attr:`Node.key_defaults`).

Simplifications: ownership of status subresource writes is not tracked;
``null`` in an applied configuration is ignored.
"""

from __future__ import annotations

import copy
import json
from datetime import datetime, timezone
from typing import Any, Iterable

from . import errors
from .schema import ANY, Node

Path = tuple[str, ...]
_ENTRY = object()  # marker value for list-map / set element paths
_MISSING = object()

#: metadata fields the server sets itself; never owned by a manager.
_SERVER_META = {"name", "namespace", "uid", "resourceVersion", "generation", "creationTimestamp",
                "managedFields", "selfLink", "deletionTimestamp", "deletionGracePeriodSeconds"}


def now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def manager_from_user_agent(user_agent: str | None) -> str:
    """Default field manager: the User-Agent up to its first ``/``."""
    return (user_agent or "unknown").split("/")[0][:128] or "unknown"


# ------------------------------------------------------------------ field sets


def _list_semantics(node: Node) -> tuple[str, tuple[str, ...]]:
    if node.list_type:
        keys = node.list_map_keys or ((node.merge_key,) if node.merge_key else ())
        return node.list_type, keys
    if node.merge_key:
        return "map", (node.merge_key,)
    return "atomic", ()


def _identity(item: dict, keys: Iterable[str], defaults: dict[str, Any]) -> dict[str, Any]:
    """The key fields of a list-map element, missing ones defaulted as the server does."""
    return {k: item[k] if k in item else defaults[k] for k in keys if k in item or k in defaults}


def _matches(candidate: Any, ident: dict[str, Any], defaults: dict[str, Any]) -> bool:
    return isinstance(candidate, dict) and all(
        candidate.get(k, defaults.get(k)) == v for k, v in ident.items())


def _key_pe(item: dict, keys: Iterable[str], defaults: dict[str, Any]) -> str:
    ident = _identity(item, keys, defaults)
    return "k:" + json.dumps(ident, sort_keys=True, separators=(",", ":"))


def field_values(obj: dict, node: Node, include_status: bool) -> dict[Path, Any]:
    """Map every owned-able field path of ``obj`` to its value.

    Leaves map to their value; list-map and set elements map to a marker.
    ``apiVersion``, ``kind`` and server-set metadata are excluded, as is
    ``status`` unless ``include_status``.
    """
    out: dict[Path, Any] = {}
    for key, value in obj.items():
        if key in ("apiVersion", "kind") or (key == "status" and not include_status):
            continue
        child = node.child(key) or ANY
        if key == "metadata" and isinstance(value, dict):
            for mkey, mvalue in value.items():
                if mkey not in _SERVER_META:
                    _walk(mvalue, child.child(mkey) or ANY, ("f:metadata", f"f:{mkey}"), out)
            continue
        _walk(value, child, (f"f:{key}",), out)
    return out


def _walk(value: Any, node: Node, path: Path, out: dict[Path, Any]) -> None:
    if isinstance(value, dict) and value and node.map_type != "atomic" and node.shape != "scalar":
        for key, item in value.items():
            _walk(item, node.child(key) or ANY, path + (f"f:{key}",), out)
        return
    if isinstance(value, list) and value:
        list_type, keys = _list_semantics(node)
        if list_type == "map" and all(isinstance(x, dict) for x in value):
            for item in value:
                entry = path + (_key_pe(item, keys, node.key_defaults),)
                out[entry] = _ENTRY
                for key, sub in item.items():
                    _walk(sub, (node.items or ANY).child(key) or ANY, entry + (f"f:{key}",), out)
            return
        if list_type == "set":
            for item in value:
                out[path + ("v:" + json.dumps(item, sort_keys=True, separators=(",", ":")),)] = _ENTRY
            return
    out[path] = value


def to_fields_v1(paths: Iterable[Path]) -> dict:
    """Serialise a set of paths as a ``FieldsV1`` tree."""
    tree: dict = {}
    for path in sorted(paths):
        node = tree
        for pe in path:
            node = node.setdefault(pe, {})
    # Mark members that also have children with ".".
    members = set(paths)

    def mark(node: dict, prefix: Path) -> None:
        for pe, child in node.items():
            if pe == ".":
                continue
            p = prefix + (pe,)
            if child and p in members:
                child["."] = {}
            mark(child, p)

    mark(tree, ())
    return tree


def from_fields_v1(tree: dict, prefix: Path = ()) -> set[Path]:
    paths: set[Path] = set()
    for pe, child in (tree or {}).items():
        if pe == ".":
            continue
        p = prefix + (pe,)
        if not child or "." in child:
            paths.add(p)
        paths |= from_fields_v1(child, p)
    return paths


def describe(path: Path) -> str:
    """``('f:spec','k:{"name":"a"}','f:image')`` -> ``.spec[name="a"].image``."""
    out = ""
    for pe in path:
        kind, _, rest = pe.partition(":")
        if kind == "f":
            out += "." + rest
        elif kind == "k":
            ident = json.loads(rest)
            out += "[" + ",".join(f"{k}={json.dumps(v)}" for k, v in ident.items()) + "]"
        else:
            out += f"[={rest}]"
    return out


# -------------------------------------------------------------- managed fields


class ManagedFields:
    """The ``metadata.managedFields`` of one object, as editable path sets."""

    def __init__(self, entries: list[dict] | None):
        self.entries: list[dict] = []
        for entry in entries or []:
            if entry.get("subresource"):
                continue
            self.entries.append({**entry, "_paths": from_fields_v1(entry.get("fieldsV1") or {})})

    def _entry(self, manager: str, operation: str, api_version: str) -> dict:
        for entry in self.entries:
            if entry["manager"] == manager and entry["operation"] == operation:
                entry["apiVersion"] = api_version
                return entry
        entry = {"manager": manager, "operation": operation, "apiVersion": api_version,
                 "_paths": set()}
        self.entries.append(entry)
        return entry

    def record_update(self, manager: str, api_version: str, old: dict[Path, Any],
                      new: dict[Path, Any]) -> None:
        """A non-apply write by ``manager`` turned field values ``old`` into ``new``."""
        changed = {p for p, v in new.items() if old.get(p, _MISSING) != v}
        live = set(new)
        for entry in self.entries:
            entry["_paths"] = (entry["_paths"] - changed) & live
        if changed:
            entry = self._entry(manager, "Update", api_version)
            entry["_paths"] |= changed
            entry["_touched"] = True
        self._drop_empty()

    def owners_except(self, manager: str, operation: str) -> list[dict]:
        return [e for e in self.entries if not (e["manager"] == manager and e["operation"] == operation)]

    def _drop_empty(self) -> None:
        self.entries = [e for e in self.entries if e["_paths"]]

    def serialise(self, previous: list[dict] | None) -> list[dict]:
        """Render entries; untouched entries keep their previous ``time``."""
        old_times = {(e.get("manager"), e.get("operation")): e.get("time") for e in previous or []}
        out = []
        for entry in self.entries:
            key = (entry["manager"], entry["operation"])
            time = now() if entry.get("_touched") or key not in old_times else old_times[key]
            out.append({"manager": entry["manager"], "operation": entry["operation"],
                        "apiVersion": entry["apiVersion"], "time": time, "fieldsType": "FieldsV1",
                        "fieldsV1": to_fields_v1(entry["_paths"])})
        return out


# ------------------------------------------------------------ server-side apply


def _drop_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _drop_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_nulls(v) for v in value]
    return value


def _merge(live: Any, applied: Any, node: Node) -> Any:
    if isinstance(applied, dict) and node.map_type != "atomic" and node.shape != "scalar":
        result = copy.deepcopy(live) if isinstance(live, dict) else {}
        for key, value in applied.items():
            result[key] = _merge(result.get(key), value, node.child(key) or ANY)
        return result
    if isinstance(applied, list) and isinstance(live, list):
        list_type, keys = _list_semantics(node)
        if list_type == "map" and all(isinstance(x, dict) for x in applied + live):
            result = copy.deepcopy(live)
            for item in applied:
                idx = _find(result, item, keys, node.key_defaults)
                if idx is None:
                    result.append(copy.deepcopy(item))
                else:
                    result[idx] = _merge(result[idx], item, node.items or ANY)
            return result
        if list_type == "set":
            return copy.deepcopy(live) + [copy.deepcopy(x) for x in applied if x not in live]
    return copy.deepcopy(applied)


def _find(items: list[dict], item: dict, keys: Iterable[str], defaults: dict[str, Any]) -> int | None:
    ident = _identity(item, keys, defaults)
    for idx, candidate in enumerate(items):
        if _matches(candidate, ident, defaults):
            return idx
    return None


def _remove_path(obj: Any, path: Path, node: Node) -> None:
    """Delete the field or list element at ``path`` from ``obj`` (if present)."""
    parent: Any = obj
    pnode = node
    for i, pe in enumerate(path):
        last = i == len(path) - 1
        kind, _, rest = pe.partition(":")
        if kind == "f":
            if not isinstance(parent, dict) or rest not in parent:
                return
            if last:
                del parent[rest]
                return
            parent, pnode = parent[rest], pnode.child(rest) or ANY
        elif kind == "k":
            if not isinstance(parent, list):
                return
            ident = json.loads(rest)
            idx = next((j for j, x in enumerate(parent) if _matches(x, ident, pnode.key_defaults)), None)
            if idx is None:
                return
            if last:
                parent.pop(idx)
                return
            parent, pnode = parent[idx], pnode.items or ANY
        else:  # v: set element
            if isinstance(parent, list) and last:
                value = json.loads(rest)
                if value in parent:
                    parent.remove(value)
            return


def _lookup(obj: Any, path: Path, node: Node) -> Any:
    """The value at ``path`` (field names and keyed list elements), or _MISSING."""
    for pe in path:
        kind, _, rest = pe.partition(":")
        if kind == "f" and isinstance(obj, dict) and rest in obj:
            obj, node = obj[rest], node.child(rest) or ANY
        elif kind == "k" and isinstance(obj, list):
            ident = json.loads(rest)
            obj = next((x for x in obj if _matches(x, ident, node.key_defaults)), _MISSING)
            if obj is _MISSING:
                return obj
            node = node.items or ANY
        else:
            return _MISSING
    return obj


def _remove_emptied_parents(obj: dict, removed: Path, wanted: set[Path], node: Node) -> None:
    """A map the applier set and no longer sets goes with its last field, as the real server
    does (it owns the map itself, ``.`` in fieldsV1): switching a volume from
    ``persistentVolumeClaim`` to ``emptyDir`` must not leave ``persistentVolumeClaim: {}``."""
    for i in range(len(removed) - 1, 0, -1):
        parent = removed[:i]
        if parent in wanted or not parent[-1].startswith("f:") or _lookup(obj, parent, node) != {}:
            return
        _remove_path(obj, parent, node)


def server_side_apply(live: dict | None, applied: dict, node: Node, manager: str, force: bool,
                      api_version: str, include_status: bool, plural: str, group: str) -> dict:
    """Apply ``applied`` as ``manager``; return the new object (managedFields set)."""
    applied = _drop_nulls(applied)
    applied.get("metadata", {}).pop("managedFields", None)
    live = copy.deepcopy(live) if live else {}
    managed = ManagedFields(live.get("metadata", {}).get("managedFields"))
    applied_fields = field_values(applied, node, include_status)
    live_fields = field_values(live, node, include_status) if live else {}

    conflicts = []
    for entry in managed.owners_except(manager, "Apply"):
        for path in entry["_paths"] & applied_fields.keys():
            value = applied_fields[path]
            if value is not _ENTRY and live_fields.get(path, _MISSING) != value:
                conflicts.append((entry, path))
    if conflicts and not force:
        name = (applied.get("metadata") or {}).get("name", "")
        causes = [{"reason": "FieldManagerConflict",
                   "message": f'conflict with "{e["manager"]}" using {e["apiVersion"]}',
                   "field": describe(p)} for e, p in conflicts]
        lines = "\n".join(f'- {c["message"]}: {c["field"]}' for c in causes)
        raise errors.ApiError(
            409, "Conflict",
            f"Apply failed with {len(conflicts)} conflict{'s' if len(conflicts) > 1 else ''}: {lines}",
            {"name": name, "group": group, "kind": plural, "causes": causes})
    for entry, path in conflicts:
        entry["_paths"].discard(path)
        entry["_touched"] = True

    merged = _merge(live, applied, node)

    mine = next((e for e in managed.entries if e["manager"] == manager and e["operation"] == "Apply"), None)
    previous = mine["_paths"] if mine else set()
    others: set[Path] = set()
    for entry in managed.owners_except(manager, "Apply"):
        others |= entry["_paths"]
    stale = previous - applied_fields.keys() - others
    wanted = {p[:i] for p in applied_fields for i in range(1, len(p) + 1)}
    for path in sorted(stale, key=len, reverse=True):
        # Removing an element removes its fields too; its fields alone would
        # leave an element the applier no longer wants (and lose its key).
        if not any(path[:i] in stale for i in range(1, len(path))):
            _remove_path(merged, path, node)
            _remove_emptied_parents(merged, path, wanted, node)

    # Fields now set by the applier leave other Update managers if the value changed.
    merged_fields = field_values(merged, node, include_status)
    for entry in managed.owners_except(manager, "Apply"):
        entry["_paths"] &= merged_fields.keys()
    entry = managed._entry(manager, "Apply", api_version)
    if entry["_paths"] != set(applied_fields):
        entry["_touched"] = True
    entry["_paths"] = set(applied_fields)
    managed._drop_empty()
    merged.setdefault("metadata", {})["managedFields"] = managed.serialise(
        live.get("metadata", {}).get("managedFields"))
    return merged
