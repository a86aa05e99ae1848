"""``labelSelector`` and ``fieldSelector`` query parameters.

Label selectors follow ``k8s.io/apimachinery/pkg/labels``: comma-separated
requirements, each ``key=value``, ``key==value``, ``key!=value``,
``key in (a,b)``, ``key notin (a,b)``, ``key`` (exists) or ``!key`` (does not
exist); all must hold.  Field selectors support ``metadata.name`` and
``metadata.namespace`` with ``=``, ``==`` and ``!=`` (the fields every
resource supports); anything else is a 400 as on the real server.
"""

from __future__ import annotations

import re
from typing import Callable

from . import errors

Matcher = Callable[[dict], bool]

_SET_RE = re.compile(r"^\s*(!?)\s*([A-Za-z0-9_./-]+)\s*(?:(notin|in)\s*\(([^)]*)\))?\s*$")
_EQ_RE = re.compile(r"^\s*([A-Za-z0-9_./-]+)\s*(==|=|!=)\s*([A-Za-z0-9_.-]*)\s*$")


def _split_requirements(selector: str) -> list[str]:
    """Split on commas that are not inside ``( )``."""
    parts, depth, current = [], 0, ""
    for ch in selector:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += ch
    parts.append(current)
    return [p for p in (x.strip() for x in parts) if p]


def parse_label_selector(selector: str | None) -> Matcher:
    """Compile a label selector string into a predicate over objects."""
    if not selector:
        return lambda obj: True
    checks: list[Callable[[dict], bool]] = []
    for req in _split_requirements(selector):
        m = _EQ_RE.match(req)
        if m and " in " not in req and " notin " not in req:
            key, op, value = m.groups()
            if op == "!=":
                checks.append(lambda lb, k=key, v=value: lb.get(k) != v)
            else:
                checks.append(lambda lb, k=key, v=value: k in lb and lb[k] == v)
            continue
        m = _SET_RE.match(req)
        if not m or (m.group(1) and m.group(3)):
            raise errors.bad_request(f"unable to parse requirement: found {req!r}, expected: "
                                     f"identifier, '!', 'in', 'notin', '=', '==' or '!='")
        negate, key, op, values = m.groups()
        if op:
            allowed = {v.strip() for v in values.split(",") if v.strip()}
            if op == "in":
                checks.append(lambda lb, k=key, a=allowed: lb.get(k) in a)
            else:
                checks.append(lambda lb, k=key, a=allowed: lb.get(k) not in a)
        elif negate:
            checks.append(lambda lb, k=key: k not in lb)
        else:
            checks.append(lambda lb, k=key: k in lb)

    def match(obj: dict) -> bool:
        labels = (obj.get("metadata") or {}).get("labels") or {}
        return all(check(labels) for check in checks)

    return match


_FIELDS = {
    "metadata.name": lambda o: o["metadata"].get("name", ""),
    "metadata.namespace": lambda o: o["metadata"].get("namespace", ""),
}


def parse_field_selector(selector: str | None) -> Matcher:
    if not selector:
        return lambda obj: True
    checks = []
    for req in _split_requirements(selector):
        m = re.match(r"^\s*([A-Za-z0-9_.]+)\s*(==|=|!=)\s*(.*?)\s*$", req)
        if not m:
            raise errors.bad_request(f"invalid selector: {req!r}; can't understand {req!r}")
        field, op, value = m.groups()
        getter = _FIELDS.get(field)
        if getter is None:
            raise errors.bad_request(f'field label not supported: {field}')
        if op == "!=":
            checks.append(lambda o, g=getter, v=value: g(o) != v)
        else:
            checks.append(lambda o, g=getter, v=value: g(o) == v)
    return lambda obj: all(check(obj) for check in checks)
