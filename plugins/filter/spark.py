# Copyright: edp.platform contributors
# Apache License 2.0 (see LICENSE)
"""The spark role's arithmetic and text, as pure filters (unit-tested in tests/unit/test_spark_filters.py).

* ``spark_memory``: a Kubernetes quantity (``1Gi``) as Spark's size (``1024m``), rounded up to a MiB.
* ``spark_cores``: a CPU quantity as Spark's whole cores (at least 1).
* ``spark_pod_resources``: the requests and limits of the pod Spark makes for a driver or executor
  of ``{cores, memory, memory_overhead}`` (what the quota check counts).
* ``spark_conf_owned``: the keys of a ``spark_conf`` mapping the platform sets itself, each with
  the variable to set instead (the validate action's ``without_keys`` check names them).
* ``spark_defaults_conf``: a mapping of settings as ``spark-defaults.conf`` text.

Documentation of each filter: ``plugins/filter/<name>.yml``.
"""

from __future__ import annotations

import math
from decimal import Decimal

from ansible.errors import AnsibleFilterError

from ansible_collections.edp.platform.plugins.module_utils.capacity import format_quantity, quantity

MIB = 2 ** 20


def _mib(value):
    number = quantity(value)
    if number is None:
        return None
    return int(math.ceil(number / MIB))


def spark_memory(value):
    """``1Gi`` -> ``1024m``; ``1536Mi`` -> ``1536m``; ``1G`` -> ``954m`` (rounded up)."""
    mib = _mib(value)
    if mib is None:
        raise AnsibleFilterError("spark_memory: %r is not a Kubernetes quantity" % (value,))
    return "%dm" % mib


def spark_cores(value):
    """``500m`` -> 1, ``1`` -> 1, ``1.5`` -> 2: the whole cores (task slots) Spark runs with."""
    number = quantity(value)
    if number is None:
        raise AnsibleFilterError("spark_cores: %r is not a CPU quantity" % (value,))
    return max(1, int(math.ceil(number)))


def spark_pod_resources(spec):
    """The resources of a Spark pod: CPU request = ``cores``, limit = whole cores; memory request
    and limit = ``memory`` + ``memory_overhead`` (Spark sets them equal). ``{}`` when a value is
    not a quantity: the input checks report that, naming the variable."""
    if not isinstance(spec, dict):
        return {}
    cores = quantity(spec.get("cores"))
    heap, overhead = _mib(spec.get("memory")), _mib(spec.get("memory_overhead"))
    if cores is None or heap is None or overhead is None:
        return {}
    memory = format_quantity(Decimal((heap + overhead) * MIB))
    return {"requests": {"cpu": format_quantity(cores, "cpu"), "memory": memory},
            "limits": {"cpu": str(max(1, int(math.ceil(cores)))), "memory": memory}}


def spark_conf_owned(conf, owned):
    """``{key: variable}`` for every key of ``conf`` the platform sets: ``owned`` maps a key, or a
    prefix ending in ``.``, to the variable (and reason) to name instead."""
    if not isinstance(conf, dict) or not isinstance(owned, dict):
        return {}
    found = {}
    for key in conf:
        text = str(key)
        for pattern, instead in owned.items():
            if text == pattern or (pattern.endswith(".") and text.startswith(pattern)):
                found[key] = instead
                break
    return found


def spark_defaults_conf(settings, header="Managed by edp.platform (spark role): changes here are overwritten."):
    """``key value`` lines, sorted, as Spark's properties-file loader reads them."""
    if not isinstance(settings, dict):
        raise AnsibleFilterError("spark_defaults_conf: expected a mapping, got %r" % (settings,))
    lines = ["# " + header]
    for key in sorted(settings):
        value = settings[key]
        if isinstance(value, bool):
            value = "true" if value else "false"
        text = str(value)
        if "\n" in text or not str(key) or any(c.isspace() for c in str(key)):
            raise AnsibleFilterError("spark_defaults_conf: %r = %r cannot be written on one line" % (key, value))
        # java.util.Properties: a backslash escapes the next character.
        lines.append("%s %s" % (key, text.replace("\\", "\\\\")))
    return "\n".join(lines) + "\n"


class FilterModule:
    def filters(self):
        return {
            "spark_memory": spark_memory,
            "spark_cores": spark_cores,
            "spark_pod_resources": spark_pod_resources,
            "spark_conf_owned": spark_conf_owned,
            "spark_defaults_conf": spark_defaults_conf,
        }
