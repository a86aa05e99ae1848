"""Semantic validation the real server does beyond the OpenAPI schema.

* object names (``metadata.name``): DNS-1123 subdomain by default, DNS-1123
  label for namespaces, DNS-1035 label for services, path-segment names for
  RBAC objects, ``<plural>.<group>`` for CRDs;
* label keys/values and annotation keys (``k8s.io/apimachinery`` rules);
* ConfigMap/Secret data keys;
* resource quantities wherever the schema has a ``resource.Quantity``
  (:func:`quantity_errors`, the grammar of ``resource.ParseQuantity``);
* the Go validation of each kind's spec (:mod:`.rules`: ranges, ports,
  requests <= limits, selectors, pod specs...), via :func:`validate_object`;
* immutable fields on update (see :data:`IMMUTABLE` and the per-kind checks).

Every check returns ``details.causes`` entries; the caller turns a non-empty
list into a ``422 Invalid``.
"""

from __future__ import annotations

import copy
import re
from typing import Any, Callable

from . import quantity, rules
from .errors import cause
from .schema import Node

DNS1123_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
DNS1123_SUBDOMAIN = rf"{DNS1123_LABEL}(\.{DNS1123_LABEL})*"
DNS1035_LABEL = r"[a-z]([-a-z0-9]*[a-z0-9])?"
LABEL_VALUE = r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?"
CONFIG_KEY = r"[-._a-zA-Z0-9]+"

_MSG_SUBDOMAIN = ("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, "
                  "'-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', "
                  f"regex used for validation is '{DNS1123_SUBDOMAIN}')")
_MSG_LABEL = ("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
              "and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', "
              f"regex used for validation is '{DNS1123_LABEL}')")
_MSG_1035 = ("a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an "
             "alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or "
             f"'abc-123', regex used for validation is '{DNS1035_LABEL}')")


def _full(pattern: str, value: str) -> bool:
    return re.fullmatch(pattern, value) is not None


def _invalid(field: str, value: Any, detail: str) -> dict[str, str]:
    return cause(field, f'Invalid value: "{value}": {detail}')


def _check_subdomain(field: str, value: str) -> list[dict]:
    if len(value) > 253:
        return [_invalid(field, value, "must be no more than 253 characters")]
    return [] if _full(DNS1123_SUBDOMAIN, value) else [_invalid(field, value, _MSG_SUBDOMAIN)]


def _check_label(field: str, value: str) -> list[dict]:
    if len(value) > 63:
        return [_invalid(field, value, "must be no more than 63 characters")]
    return [] if _full(DNS1123_LABEL, value) else [_invalid(field, value, _MSG_LABEL)]


def _check_1035(field: str, value: str) -> list[dict]:
    if len(value) > 63:
        return [_invalid(field, value, "must be no more than 63 characters")]
    return [] if _full(DNS1035_LABEL, value) else [_invalid(field, value, _MSG_1035)]


def _check_path_segment(field: str, value: str) -> list[dict]:
    if value in (".", "..") or "/" in value or "%" in value:
        return [_invalid(field, value, "may not be '.' or '..' and may not contain '/' or '%'")]
    return []


#: kind -> name rule; anything not listed is a DNS-1123 subdomain.
NAME_RULES: dict[str, Callable[[str, str], list[dict]]] = {
    "Namespace": _check_label,
    "Service": _check_1035,
    "Role": _check_path_segment,
    "ClusterRole": _check_path_segment,
    "RoleBinding": _check_path_segment,
    "ClusterRoleBinding": _check_path_segment,
}


def validate_name(kind: str, name: str, plural_group: str | None = None) -> list[dict]:
    if not name:
        return [cause("metadata.name", "Required value: name or generateName is required",
                      "FieldValueRequired")]
    causes = NAME_RULES.get(kind, _check_subdomain)("metadata.name", name)
    if kind == "CustomResourceDefinition" and plural_group and name != plural_group:
        causes.append(_invalid("metadata.name", name, f"must be spec.names.plural+\".\"+spec.group"))
    return causes


def _check_qualified_key(field: str, key: str) -> list[dict]:
    """A label or annotation key: ``IsQualifiedName`` (rules.qualified_name)."""
    return rules.qualified_name(field, key)


def validate_metadata(meta: dict) -> list[dict]:
    """Labels and annotations, as ``ValidateObjectMeta`` does."""
    causes: list[dict] = []
    for key, value in (meta.get("labels") or {}).items():
        causes += _check_qualified_key("metadata.labels", key)
        value = "" if value is None else str(value)
        if len(value) > 63:
            causes.append(_invalid("metadata.labels", value, "must be no more than 63 characters"))
        elif not _full(LABEL_VALUE, value):
            causes.append(_invalid(
                "metadata.labels", value,
                "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' "
                "or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or "
                f"'my_value',  or '12345', regex used for validation is '{LABEL_VALUE}')"))
    annotations = meta.get("annotations") or {}
    for key in annotations:
        causes += _check_qualified_key("metadata.annotations", key)
    if sum(len(k) + len(str(v or "")) for k, v in annotations.items()) > 256 * 1024:
        causes.append(cause("metadata.annotations", "Too long: must have at most 262144 bytes",
                            "FieldValueTooLong"))
    return causes


def validate_data_keys(obj: dict) -> list[dict]:
    """ConfigMap/Secret keys must be valid config keys (``IsConfigMapKey``)."""
    causes = []
    for field in ("data", "binaryData", "stringData"):
        for key in obj.get(field) or {}:
            if not _full(CONFIG_KEY, key) or len(key) > 253:
                causes.append(_invalid(f"{field}[{key}]", key,
                                       "a valid config key must consist of alphanumeric characters, '-', "
                                       "'_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex "
                                       f"used for validation is '{CONFIG_KEY}')"))
    return causes


# ------------------------------------------------------------ enumerated values

_POD_TEMPLATE_ENUMS = {
    "containers[*].imagePullPolicy": ("Always", "IfNotPresent", "Never"),
    "containers[*].ports[*].protocol": ("TCP", "UDP", "SCTP"),
    "initContainers[*].imagePullPolicy": ("Always", "IfNotPresent", "Never"),
    "dnsPolicy": ("ClusterFirst", "ClusterFirstWithHostNet", "Default", "None"),
}


def _pod_enums(prefix: str, restart: tuple[str, ...]) -> dict[str, tuple[str, ...]]:
    table = {f"{prefix}.{path}": values for path, values in _POD_TEMPLATE_ENUMS.items()}
    table[f"{prefix}.restartPolicy"] = restart
    return table


_ANY_RESTART = ("Always", "OnFailure", "Never")

#: kind -> {field path ([*] = every list element): allowed values}.  The
#: OpenAPI schemas carry no enums for these; the real server checks them in
#: its Go validation.
ENUMS: dict[str, dict[str, tuple[str, ...]]] = {
    "Service": {"spec.type": ("ClusterIP", "NodePort", "LoadBalancer", "ExternalName"),
                "spec.ports[*].protocol": ("TCP", "UDP", "SCTP"),
                "spec.sessionAffinity": ("None", "ClientIP")},
    "Pod": _pod_enums("spec", _ANY_RESTART),
    "Deployment": {"spec.strategy.type": ("RollingUpdate", "Recreate"),
                   **_pod_enums("spec.template.spec", ("Always",))},
    "StatefulSet": {"spec.podManagementPolicy": ("OrderedReady", "Parallel"),
                    "spec.updateStrategy.type": ("RollingUpdate", "OnDelete"),
                    **_pod_enums("spec.template.spec", ("Always",))},
    "DaemonSet": {"spec.updateStrategy.type": ("RollingUpdate", "OnDelete"),
                  **_pod_enums("spec.template.spec", ("Always",))},
    "ReplicaSet": _pod_enums("spec.template.spec", ("Always",)),
    "Job": _pod_enums("spec.template.spec", ("OnFailure", "Never")),
    "CronJob": {"spec.concurrencyPolicy": ("Allow", "Forbid", "Replace"),
                **_pod_enums("spec.jobTemplate.spec.template.spec", ("OnFailure", "Never"))},
    "PersistentVolumeClaim": {"spec.accessModes[*]": ("ReadWriteOnce", "ReadOnlyMany", "ReadWriteMany",
                                                      "ReadWriteOncePod"),
                              "spec.volumeMode": ("Filesystem", "Block")},
}


def _values_at(obj: Any, path: str, prefix: str = "") -> list[tuple[str, Any]]:
    """``(concrete path, value)`` for every match of ``path`` (``[*]`` fans out over lists)."""
    if not path:
        return [(prefix, obj)]
    head, _, rest = path.partition(".")
    fan = head.endswith("[*]")
    key = head[:-3] if fan else head
    if not isinstance(obj, dict) or key not in obj or obj[key] is None:
        return []
    here = f"{prefix}.{key}" if prefix else key
    if not fan:
        return _values_at(obj[key], rest, here)
    out = []
    for i, item in enumerate(obj[key] if isinstance(obj[key], list) else []):
        out += _values_at(item, rest, f"{here}[{i}]")
    return out


def validate_enums(kind: str, obj: dict) -> list[dict]:
    causes = []
    for path, allowed in ENUMS.get(kind, {}).items():
        for field, value in _values_at(obj, path):
            if value not in allowed:
                supported = ", ".join(f'"{a}"' for a in allowed)
                causes.append(cause(field, f'Unsupported value: "{value}": supported values: {supported}',
                                    "FieldValueNotSupported"))
    return causes


# ------------------------------------------------------------------ quantities


def quantity_errors(obj: Any, node: Node, path: str = "") -> list[dict]:
    """Every ``resource.Quantity`` of ``obj`` (found through the schema) that does not parse.

    The real server fails such a body while decoding it (400 ``... cannot be handled
    as a Deployment: quantities must match the regular expression ...``); the
    emulator answers 422 with the field named, like its other schema errors.
    """
    if node.quantity:
        if obj is None:
            return []
        try:
            quantity.parse(obj)
        except quantity.QuantityError as exc:
            return [cause(path, f"Invalid value: {rules.go_value(obj)}: {exc}")]
        return []
    causes: list[dict] = []
    if isinstance(obj, dict):
        if node.shape == "struct":
            for key, value in obj.items():
                child = node.child(key)
                if child is not None and child.shape != "any":
                    causes += quantity_errors(value, child, f"{path}.{key}" if path else key)
        elif node.shape == "map" and node.additional is not None:
            for key, value in obj.items():
                causes += quantity_errors(value, node.additional, f"{path}[{key}]")
    elif isinstance(obj, list) and node.shape == "array" and node.items is not None:
        for i, item in enumerate(obj):
            causes += quantity_errors(item, node.items, f"{path}[{i}]")
    return causes


def validate_object(kind: str, obj: dict, old: dict | None, root: Node | None) -> list[dict]:
    """Quantities and the Go rules of a built-in ``kind`` (:mod:`.rules`)."""
    causes = quantity_errors(obj, root) if root is not None else []
    return causes + rules.object_errors(kind, obj, old)


# ---------------------------------------------------------------- immutability

_MISSING = object()


def _get(obj: Any, path: str) -> Any:
    for part in path.split("."):
        if not isinstance(obj, dict) or part not in obj:
            return _MISSING
        obj = obj[part]
    return obj


def _immutable(field: str, old: dict, new: dict) -> list[dict]:
    value = _get(new, field)
    if value != _get(old, field):
        return [rules.invalid(field, None if value is _MISSING else value, "field is immutable")]
    return []


#: kind -> fields that may not change once set (checked on every update;
#: ``metadata.name`` and ``metadata.namespace`` of every kind too).
IMMUTABLE: dict[str, tuple[str, ...]] = {
    "Job": ("spec.selector", "spec.template", "spec.completions", "spec.completionMode",
            "spec.podFailurePolicy", "spec.backoffLimitPerIndex", "spec.managedBy", "spec.successPolicy"),
    "Deployment": ("spec.selector",),
    "DaemonSet": ("spec.selector",),
    "ReplicaSet": ("spec.selector",),
    "StatefulSet": ("spec.selector",),
    "Service": ("spec.clusterIP",),
    "Secret": ("type",),
    "StorageClass": ("provisioner", "parameters", "reclaimPolicy", "volumeBindingMode"),
}

#: kind -> (field, message) for fields whose change the server words its own way.
IMMUTABLE_WORDED: dict[str, tuple[tuple[str, str], ...]] = {
    "RoleBinding": (("roleRef", "cannot change roleRef"),),
    "ClusterRoleBinding": (("roleRef", "cannot change roleRef"),),
}

STATEFULSET_MUTABLE = ("replicas", "template", "updateStrategy", "persistentVolumeClaimRetentionPolicy",
                       "minReadySeconds", "ordinals")


def _pvc_spec_for_comparison(spec: dict, old_spec: dict) -> dict:
    """What must not change in a (bound) claim's spec: everything but
    ``resources.requests.storage``, ``volumeAttributesClassName``, and ``volumeName``
    while unset (``ValidatePersistentVolumeClaimUpdate``)."""
    out = copy.deepcopy(spec)
    requests = (out.get("resources") or {}).get("requests")
    if isinstance(requests, dict):
        old_storage = _get(old_spec, "resources.requests.storage")
        if old_storage is _MISSING:
            requests.pop("storage", None)
        else:
            requests["storage"] = old_storage
    out.pop("volumeAttributesClassName", None)
    if not old_spec.get("volumeName"):
        out.pop("volumeName", None)
    return out


def validate_update(kind: str, old: dict, new: dict) -> list[dict]:
    """Immutable-field rules of the real update strategies."""
    causes: list[dict] = []
    for field in ("metadata.name", "metadata.namespace"):  # ValidateObjectMetaUpdate
        causes += _immutable(field, old, new)
    for field in IMMUTABLE.get(kind, ()):
        causes += _immutable(field, old, new)
    for field, message in IMMUTABLE_WORDED.get(kind, ()):
        if _get(new, field) != _get(old, field):
            causes.append(rules.invalid(field, _get(new, field), message))
    old_spec, new_spec = old.get("spec") or {}, new.get("spec") or {}
    if kind == "StatefulSet":
        changed = {k for k in set(old_spec) | set(new_spec)
                   if k not in STATEFULSET_MUTABLE and old_spec.get(k) != new_spec.get(k)}
        if changed - {"selector"}:
            causes.append(cause("spec", "Forbidden: updates to statefulset spec for fields other than "
                                "'replicas', 'ordinals', 'template', 'updateStrategy', "
                                "'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden",
                                "FieldValueForbidden"))
    elif kind == "PersistentVolumeClaim":
        if _pvc_spec_for_comparison(new_spec, old_spec) != _pvc_spec_for_comparison(old_spec, old_spec):
            causes.append(cause("spec", "Forbidden: spec is immutable after creation except "
                                "resources.requests and volumeAttributesClassName for bound claims",
                                "FieldValueForbidden"))
        old_req = _get(old_spec, "resources.requests.storage")
        new_req = _get(new_spec, "resources.requests.storage")
        if old_req is not _MISSING and new_req is not _MISSING:
            try:
                if quantity.parse(new_req) < quantity.parse(old_req):
                    causes.append(cause("spec.resources.requests.storage",
                                        "Forbidden: field can not be less than previous value",
                                        "FieldValueForbidden"))
            except quantity.QuantityError:
                pass  # reported by quantity_errors
    elif kind == "ResourceQuota" and set(old_spec.get("scopes") or []) != set(new_spec.get("scopes") or []):
        causes.append(rules.invalid("spec.scopes", new_spec.get("scopes"), "field is immutable"))
    if kind in ("ConfigMap", "Secret") and old.get("immutable"):
        if not new.get("immutable"):
            causes.append(cause("immutable", "Forbidden: field is immutable when `immutable` is set",
                                "FieldValueForbidden"))
        for field in ("data", "binaryData"):
            if old.get(field) != new.get(field):
                causes.append(cause(field, "Forbidden: field is immutable when `immutable` is set",
                                    "FieldValueForbidden"))
    return causes
