"""PATCH bodies: JSON merge patch, JSON patch and strategic merge patch.

* ``application/merge-patch+json`` — RFC 7386: objects merge recursively,
  ``null`` deletes, everything else (lists included) replaces.
* ``application/json-patch+json`` — RFC 6902 operations ``add``, ``remove``,
  ``replace``, ``move``, ``copy``, ``test``.  A failed ``test`` or an
  operation on a missing path is rejected as the real server does (422).
* ``application/strategic-merge-patch+json`` — Kubernetes' strategic merge,
  driven by the same OpenAPI extensions the server reads from its Go types:
  ``x-kubernetes-patch-strategy`` (``merge``/``replace``/``retainKeys``) and
  ``x-kubernetes-patch-merge-key`` (``name`` for containers, env, volumes...,
  ``containerPort`` for container ports, ``port`` for service ports,
  ``mountPath``/``devicePath`` for mounts and devices).  Directives
  ``$patch: delete|replace|merge``, ``$deleteFromPrimitiveList/<f>``,
  ``$setElementOrder/<f>`` and ``$retainKeys`` are honoured.

Server-side apply lives in :mod:`kube_emulator.apply`.
"""

from __future__ import annotations

import copy
from typing import Any

from . import errors
from .schema import ANY, Node

_MISSING = object()


# ----------------------------------------------------------------- merge patch


def merge_patch(target: Any, patch: Any) -> Any:
    """Apply an RFC 7386 JSON merge patch; returns a new value."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


# ------------------------------------------------------------------ json patch


def _unescape(token: str) -> str:
    return token.replace("~1", "/").replace("~0", "~")


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise errors.ApiError(422, "Invalid", f"invalid JSON pointer {path!r}")
    return [_unescape(t) for t in path[1:].split("/")]


def _parent(doc: Any, tokens: list[str], path: str) -> tuple[Any, str]:
    node = doc
    for token in tokens[:-1]:
        node = _step(node, token, path)
    return node, tokens[-1]


def _step(node: Any, token: str, path: str) -> Any:
    if isinstance(node, dict):
        if token not in node:
            raise _patch_failed(f"doc is missing path: {path!r}")
        return node[token]
    if isinstance(node, list):
        return node[_index(node, token, path, allow_end=False)]
    raise _patch_failed(f"doc is missing path: {path!r}")


def _index(lst: list, token: str, path: str, allow_end: bool) -> int:
    if token == "-" and allow_end:
        return len(lst)
    if not token.isdigit() or (token != "0" and token.startswith("0")):
        raise _patch_failed(f"invalid array index {token!r} in {path!r}")
    idx = int(token)
    if idx > len(lst) or (idx == len(lst) and not allow_end):
        raise _patch_failed(f"array index out of bounds in {path!r}")
    return idx


def _patch_failed(message: str) -> errors.ApiError:
    return errors.ApiError(422, "Invalid", f"the server rejected our request due to an error in our request: {message}")


def _get(doc: Any, path: str) -> Any:
    node = doc
    for token in _pointer(path):
        node = _step(node, token, path)
    return node


def _add(doc: Any, path: str, value: Any) -> Any:
    tokens = _pointer(path)
    if not tokens:
        return value
    parent, last = _parent(doc, tokens, path)
    if isinstance(parent, dict):
        parent[last] = value
    elif isinstance(parent, list):
        parent.insert(_index(parent, last, path, allow_end=True), value)
    else:
        raise _patch_failed(f"doc is missing path: {path!r}")
    return doc


def _remove(doc: Any, path: str) -> tuple[Any, Any]:
    tokens = _pointer(path)
    if not tokens:
        raise _patch_failed("cannot remove the document root")
    parent, last = _parent(doc, tokens, path)
    if isinstance(parent, dict):
        if last not in parent:
            raise _patch_failed(f"unable to remove nonexistent key: {last}: missing value")
        return doc, parent.pop(last)
    if isinstance(parent, list):
        return doc, parent.pop(_index(parent, last, path, allow_end=False))
    raise _patch_failed(f"doc is missing path: {path!r}")


def json_patch(target: Any, operations: Any) -> Any:
    """Apply an RFC 6902 JSON patch; returns a new value."""
    if not isinstance(operations, list):
        raise errors.bad_request("json patch body must be a JSON array of operations")
    doc = copy.deepcopy(target)
    for op in operations:
        if not isinstance(op, dict) or "op" not in op or "path" not in op:
            raise errors.bad_request(f"invalid json patch operation: {op!r}")
        kind, path = op["op"], op["path"]
        if kind in ("add", "replace", "test") and "value" not in op:
            raise errors.bad_request(f"json patch {kind} operation requires a value")
        if kind == "add":
            doc = _add(doc, path, copy.deepcopy(op["value"]))
        elif kind == "remove":
            doc, _ = _remove(doc, path)
        elif kind == "replace":
            _get(doc, path)  # must exist
            doc, _ = _remove(doc, path) if _pointer(path) else (doc, None)
            doc = _add(doc, path, copy.deepcopy(op["value"]))
        elif kind == "move":
            doc, value = _remove(doc, op["from"])
            doc = _add(doc, path, value)
        elif kind == "copy":
            doc = _add(doc, path, copy.deepcopy(_get(doc, op["from"])))
        elif kind == "test":
            if _get(doc, path) != op["value"]:
                raise _patch_failed(f"testing value {path} failed")
        else:
            raise errors.bad_request(f"unknown json patch operation {kind!r}")
    return doc


# ------------------------------------------------------- strategic merge patch

_DELETE_PRIMITIVE = "$deleteFromPrimitiveList/"
_SET_ORDER = "$setElementOrder/"


def strategic_merge_patch(target: Any, patch: Any, node: Node) -> Any:
    """Apply a strategic merge patch to ``target`` using schema ``node``."""
    if not isinstance(patch, dict):
        raise errors.bad_request("strategic merge patch body must be a JSON object")
    return _merge_map(copy.deepcopy(target) if isinstance(target, dict) else {}, patch, node)


def _merge_map(original: dict, patch: dict, node: Node) -> dict:
    directive = patch.get("$patch")
    if directive == "replace":
        return _strip_directives({k: v for k, v in patch.items() if k != "$patch"})
    if directive == "delete":
        return _MISSING  # type: ignore[return-value]
    retain = patch.get("$retainKeys")
    for key, value in patch.items():
        if key in ("$patch", "$retainKeys"):
            continue
        if key.startswith(_SET_ORDER):
            continue
        if key.startswith(_DELETE_PRIMITIVE):
            field = key[len(_DELETE_PRIMITIVE):]
            if isinstance(original.get(field), list):
                original[field] = [x for x in original[field] if x not in value]
            continue
        child = node.child(key) or ANY
        if value is None:
            original.pop(key, None)
            continue
        merged = _merge_value(original.get(key, _MISSING), value, child)
        if merged is _MISSING:
            original.pop(key, None)
        else:
            original[key] = merged
    for key, value in patch.items():
        if key.startswith(_SET_ORDER) and isinstance(original.get(key[len(_SET_ORDER):]), list):
            field = key[len(_SET_ORDER):]
            original[field] = _set_order(original[field], value, node.child(field) or ANY)
    if isinstance(retain, list):
        for key in [k for k in original if k not in retain]:
            del original[key]
    return original


def _merge_value(original: Any, patch: Any, node: Node) -> Any:
    if isinstance(patch, dict):
        # (Without schema information -- ANY -- this degrades to a JSON merge.)
        if "replace" in node.patch_strategy.split(",") and "retainKeys" not in node.patch_strategy:
            return _strip_directives(patch)
        base = original if isinstance(original, dict) else {}
        return _merge_map(base, patch, node)
    if isinstance(patch, list):
        strategies = node.patch_strategy.split(",")
        if "merge" in strategies and node.items is not None:
            return _merge_list(original if isinstance(original, list) else [], patch, node)
        return _strip_directives(patch)
    return patch


def _merge_list(original: list, patch: list, node: Node) -> list:
    key = node.merge_key
    # A {"$patch": "replace"} element replaces the whole list with the others.
    if any(isinstance(p, dict) and p.get("$patch") == "replace" for p in patch):
        return _strip_directives([p for p in patch if not (isinstance(p, dict) and "$patch" in p)])
    if not key:
        # Primitive list with merge strategy (e.g. finalizers): union, order kept.
        result = list(original)
        for item in patch:
            if item not in result:
                result.append(item)
        return result
    result = [copy.deepcopy(x) for x in original]
    for item in patch:
        if not isinstance(item, dict) or key not in item:
            raise errors.bad_request(f"map in strategic merge list does not contain merge key {key!r}")
        idx = next((i for i, x in enumerate(result) if isinstance(x, dict) and x.get(key) == item[key]), None)
        if item.get("$patch") == "delete":
            if idx is not None:
                result.pop(idx)
            continue
        if idx is None:
            result.append(_strip_directives(item))
        else:
            merged = _merge_map(result[idx], item, node.items or ANY)
            if merged is _MISSING:
                result.pop(idx)
            else:
                result[idx] = merged
    return result


def _set_order(items: list, order: list, node: Node) -> list:
    """Reorder ``items`` following a ``$setElementOrder`` list.

    Elements named in ``order`` come in that order; elements only the server
    knows keep their relative position after them (a simplification of the
    real interleaving).
    """
    key = node.merge_key

    def ident(x: Any) -> Any:
        return x.get(key) if key and isinstance(x, dict) else x

    wanted = [ident(o) for o in order]
    listed = sorted((x for x in items if ident(x) in wanted), key=lambda x: wanted.index(ident(x)))
    return listed + [x for x in items if ident(x) not in wanted]


def _strip_directives(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip_directives(v) for k, v in value.items()
                if not (k.startswith("$patch") or k.startswith(_SET_ORDER)
                        or k.startswith(_DELETE_PRIMITIVE) or k == "$retainKeys")}
    if isinstance(value, list):
        return [_strip_directives(v) for v in value]
    return copy.deepcopy(value)
