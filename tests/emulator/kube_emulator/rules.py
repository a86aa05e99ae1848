"""Go validation of the specs of built-in kinds (``pkg/apis/*/validation``).

What the OpenAPI schema cannot say and kube-apiserver checks anyway, for the
kinds this project deploys: quantities (non-negative, requests <= limits,
LimitRange relations), integer ranges (replicas, Job counters, history limits,
ports 1-65535), selectors that must match their template, pod specs (container
ports, probes, volume mounts, resource names), Services, Ingresses,
NetworkPolicies, PodDisruptionBudgets, RBAC rules and bindings, typed Secrets.

Every rule returns ``details.causes`` entries worded like the real server
(``field.Error.ErrorBody()``): ``Invalid value: "2": must be less than or equal
to cpu limit of 1``, ``Required value``, ``Unsupported value: ...``,
``Forbidden: ...``, ``Duplicate value: ...``, ``Not found: ...``, with Go field
paths (``spec.template.spec.containers[0].resources.requests[cpu]``).

:data:`KIND_RULES` says which checks run for which kind; :data:`POD_SPECS`
where each kind keeps the pod spec that ``ValidatePodTemplateSpec`` checks.
StatefulSets are deliberately absent from :data:`POD_SPECS`: the real server
validates only the labels and annotations of a StatefulSet's template
(kubernetes/kubernetes#108904, #119435), so a bad container there is accepted and
its pods never start; :func:`pod_spec_errors` is what the emulated StatefulSet
controller uses to report exactly that (see ``controllers.py``).
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import json
import re
import zoneinfo
from typing import Any, Callable, Iterable

from . import quantity
from .errors import cause

Causes = list[dict[str, str]]

MAX_INT32 = 2**31 - 1
NODE_PORT_RANGE = (30000, 32767)  # kube-apiserver --service-node-port-range default

DNS1123_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
DNS1123_SUBDOMAIN = rf"{DNS1123_LABEL}(\.{DNS1123_LABEL})*"
DNS1035_LABEL = r"[a-z]([-a-z0-9]*[a-z0-9])?"
QUALIFIED_NAME = r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
LABEL_VALUE = r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?"

MSG_NONNEGATIVE = "must be greater than or equal to 0"
MSG_PORT_RANGE = "must be between 1 and 65535, inclusive"
MSG_SELECTOR_MISMATCH = "`selector` does not match template `labels`"


# ----------------------------------------------------------------- error helpers


def go_value(value: Any) -> str:
    """A value as ``field.Error`` prints it (``%q`` strings, ``%v`` numbers, Go maps)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, dict) and all(isinstance(v, str) for v in value.values()):
        inner = ", ".join(f"{json.dumps(k)}:{json.dumps(v)}" for k, v in sorted(value.items()))
        return f"map[string]string{{{inner}}}"
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def invalid(field: str, value: Any, detail: str) -> dict[str, str]:
    return cause(field, f"Invalid value: {go_value(value)}: {detail}")


def required(field: str, detail: str = "") -> dict[str, str]:
    return cause(field, f"Required value: {detail}" if detail else "Required value", "FieldValueRequired")


def forbidden(field: str, detail: str) -> dict[str, str]:
    return cause(field, f"Forbidden: {detail}", "FieldValueForbidden")


def not_supported(field: str, value: Any, supported: Iterable[str]) -> dict[str, str]:
    listed = ", ".join(json.dumps(s) for s in supported)
    return cause(field, f"Unsupported value: {go_value(value)}: supported values: {listed}",
                 "FieldValueNotSupported")


def duplicate(field: str, value: Any) -> dict[str, str]:
    return cause(field, f"Duplicate value: {go_value(value)}", "FieldValueDuplicate")


def not_found(field: str, value: Any) -> dict[str, str]:
    return cause(field, f"Not found: {go_value(value)}", "FieldValueNotFound")


def _d(obj: Any, *keys: str) -> Any:
    """``obj[k1][k2]...`` or None (missing, null or not a mapping on the way)."""
    for key in keys:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)
    return obj


def _list(value: Any) -> list:
    return value if isinstance(value, list) else []


def _map(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def _int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


# ------------------------------------------------------------ generic formats


def _full(pattern: str, value: Any) -> bool:
    return isinstance(value, str) and re.fullmatch(pattern, value) is not None


def dns1123_label(field: str, value: Any) -> Causes:
    if not isinstance(value, str):
        return []
    if len(value) > 63:
        return [invalid(field, value, "must be no more than 63 characters")]
    if not _full(DNS1123_LABEL, value):
        return [invalid(field, value, "a lowercase RFC 1123 label must consist of lower case alphanumeric "
                        "characters or '-', and must start and end with an alphanumeric character (e.g. "
                        f"'my-name',  or '123-abc', regex used for validation is '{DNS1123_LABEL}')")]
    return []


def dns1123_subdomain(field: str, value: Any) -> Causes:
    if not isinstance(value, str):
        return []
    if len(value) > 253:
        return [invalid(field, value, "must be no more than 253 characters")]
    if not _full(DNS1123_SUBDOMAIN, value):
        return [invalid(field, value, "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric "
                        "characters, '-' or '.', and must start and end with an alphanumeric character (e.g. "
                        f"'example.com', regex used for validation is '{DNS1123_SUBDOMAIN}')")]
    return []


def dns1035_label(field: str, value: Any) -> Causes:
    if not isinstance(value, str):
        return []
    if len(value) > 63:
        return [invalid(field, value, "must be no more than 63 characters")]
    if not _full(DNS1035_LABEL, value):
        return [invalid(field, value, "a DNS-1035 label must consist of lower case alphanumeric characters or "
                        "'-', start with an alphabetic character, and end with an alphanumeric character (e.g. "
                        f"'my-name',  or 'abc-123', regex used for validation is '{DNS1035_LABEL}')")]
    return []


def qualified_name(field: str, value: Any) -> Causes:
    """``IsQualifiedName``: ``[prefix/]name``."""
    if not isinstance(value, str):
        return []
    prefix, slash, name = value.rpartition("/")
    problems = []
    if slash and not prefix:
        problems.append("prefix part must be non-empty")
    elif prefix and (len(prefix) > 253 or not _full(DNS1123_SUBDOMAIN, prefix)):
        problems.append("prefix part a lowercase RFC 1123 subdomain must consist of lower case alphanumeric "
                        "characters, '-' or '.', and must start and end with an alphanumeric character (e.g. "
                        f"'example.com', regex used for validation is '{DNS1123_SUBDOMAIN}')")
    if not name:
        problems.append("name part must be non-empty")
    elif len(name) > 63:
        problems.append("name part must be no more than 63 characters")
    elif not _full(QUALIFIED_NAME, name):
        problems.append("name part must consist of alphanumeric characters, '-', '_' or '.', and must start and "
                        "end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex "
                        f"used for validation is '{QUALIFIED_NAME}')")
    return [invalid(field, value, p) for p in problems]


def labels(field: str, value: Any) -> Causes:
    """``ValidateLabels`` (keys qualified names, values label values)."""
    causes: Causes = []
    for key, val in _map(value).items():
        causes += qualified_name(field, key)
        val = "" if val is None else str(val)
        if len(val) > 63:
            causes.append(invalid(field, val, "must be no more than 63 characters"))
        elif not _full(LABEL_VALUE, val):
            causes.append(invalid(field, val, "a valid label must be an empty string or consist of alphanumeric "
                                  "characters, '-', '_' or '.', and must start and end with an alphanumeric "
                                  "character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for "
                                  f"validation is '{LABEL_VALUE}')"))
    return causes


def port_name(field: str, value: Any) -> Causes:
    """``IsValidPortName`` (IANA service names)."""
    if not isinstance(value, str):
        return []
    problems = []
    if len(value) > 15:
        problems.append("must be no more than 15 characters")
    if not re.fullmatch(r"[-a-z0-9]+", value):
        problems.append("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)")
    if not re.search(r"[a-z]", value):
        problems.append("must contain at least one letter (a-z)")
    if "--" in value:
        problems.append("must not contain consecutive hyphens")
    if value and (value[0] == "-" or value[-1] == "-"):
        problems.append("must not begin or end with a hyphen")
    return [invalid(field, value, p) for p in problems]


def port_number(field: str, value: Any) -> Causes:
    """``IsValidPortNum``: 1-65535."""
    if _int(value) and not 1 <= value <= 65535:
        return [invalid(field, value, MSG_PORT_RANGE)]
    return []


def port_number_or_name(field: str, value: Any) -> Causes:
    """``ValidatePortNumOrName`` (an IntOrString port)."""
    return port_name(field, value) if isinstance(value, str) else port_number(field, value)


def nonnegative(field: str, value: Any) -> Causes:
    """``ValidateNonnegativeField``."""
    if _int(value) and value < 0:
        return [invalid(field, value, MSG_NONNEGATIVE)]
    return []


def label_selector(field: str, selector: Any) -> Causes:
    """``ValidateLabelSelector``."""
    causes: Causes = []
    for i, req in enumerate(_list(_d(selector, "matchExpressions"))):
        path = f"{field}.matchExpressions[{i}]"
        op, values = _d(req, "operator"), _list(_d(req, "values"))
        if op in ("In", "NotIn"):
            if not values:
                causes.append(required(f"{path}.values", "must be specified when `operator` is 'In' or 'NotIn'"))
        elif op in ("Exists", "DoesNotExist"):
            if values:
                causes.append(forbidden(f"{path}.values",
                                        "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"))
        else:
            causes.append(invalid(f"{path}.operator", op, "not a valid selector operator"))
        causes += qualified_name(f"{path}.key", _d(req, "key"))
    causes += labels(f"{field}.matchLabels", _d(selector, "matchLabels"))
    return causes


def selector_matches(selector: Any, target: dict) -> bool:
    """``LabelSelectorAsSelector(selector).Matches(target)``."""
    for key, value in _map(_d(selector, "matchLabels")).items():
        if target.get(key) != value:
            return False
    for req in _list(_d(selector, "matchExpressions")):
        key, op, values = _d(req, "key"), _d(req, "operator"), _list(_d(req, "values"))
        if op == "In" and target.get(key) not in values:
            return False
        if op == "NotIn" and key in target and target[key] in values:
            return False
        if op == "Exists" and key not in target:
            return False
        if op == "DoesNotExist" and key in target:
            return False
    return True


def _selector_is_empty(selector: Any) -> bool:
    return not _d(selector, "matchLabels") and not _d(selector, "matchExpressions")


def _percent(value: Any) -> int | None:
    if isinstance(value, str) and re.fullmatch(r"[0-9]+%", value):
        return int(value[:-1])
    return None


def int_or_percent(field: str, value: Any, *, at_most_100: bool = True) -> Causes:
    """``ValidatePositiveIntOrPercent`` (+ ``IsNotMoreThan100Percent``)."""
    if value is None:
        return []
    if isinstance(value, str):
        pct = _percent(value)
        if pct is None:
            return [invalid(field, value, "a valid percent string must be a numeric string followed by an ending "
                            "'%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')")]
        if at_most_100 and pct > 100:
            return [invalid(field, value, "must not be greater than 100%")]
        return []
    return nonnegative(field, value)


# -------------------------------------------------------------------- quantities


def _quantity(value: Any) -> quantity.Quantity | None:
    """The parsed quantity, or None when it does not parse (reported by the grammar check)."""
    try:
        return quantity.parse(value)
    except quantity.QuantityError:
        return None


#: Resource names counted in whole units (``helper.IsIntegerResourceName``).
INTEGER_RESOURCES = {"pods", "services", "replicationcontrollers", "resourcequotas", "secrets", "configmaps",
                     "persistentvolumeclaims", "services.nodeports", "services.loadbalancers"}
STANDARD_CONTAINER_RESOURCES = {"cpu", "memory", "ephemeral-storage"}
STANDARD_RESOURCES = STANDARD_CONTAINER_RESOURCES | {
    "requests.cpu", "requests.memory", "requests.ephemeral-storage", "limits.cpu", "limits.memory",
    "limits.ephemeral-storage", "storage", "requests.storage"} | INTEGER_RESOURCES
STANDARD_QUOTA_RESOURCES = INTEGER_RESOURCES | {
    "cpu", "memory", "ephemeral-storage", "requests.cpu", "requests.memory", "requests.storage",
    "requests.ephemeral-storage", "limits.cpu", "limits.memory", "limits.ephemeral-storage"}


def _is_hugepages(name: str) -> bool:
    return name.startswith("hugepages-")


def _is_native(name: str) -> bool:
    return "/" not in name or "kubernetes.io/" in name


def _is_extended(name: str) -> bool:
    return (not _is_native(name) and not name.startswith("requests.")
            and not qualified_name("", "requests." + name))


def _overcommit_allowed(name: str) -> bool:
    return _is_native(name) and not _is_hugepages(name)


def _is_integer_resource(name: str) -> bool:
    return name in INTEGER_RESOURCES or _is_extended(name)


def quantity_value(field: str, name: str, q: quantity.Quantity) -> Causes:
    """``ValidateResourceQuantityValue``: non-negative; whole units for countable resources."""
    causes: Causes = []
    if q.value < 0:
        causes.append(invalid(field, str(q), MSG_NONNEGATIVE))
    if _is_integer_resource(name) and q.value != q.value.to_integral_value():
        causes.append(invalid(field, str(q), "must be an integer"))
    return causes


def _resource_name(field: str, name: str) -> Causes:
    """``validateResourceName``."""
    causes = qualified_name(field, name)
    if not causes and "/" not in name and name not in STANDARD_RESOURCES and not _is_hugepages(name) \
            and not name.startswith(("requests.hugepages-", "limits.hugepages-")):
        causes.append(invalid(field, name, "must be a standard resource type or fully qualified"))
    return causes


def container_resource_name(field: str, name: str) -> Causes:
    """``validateContainerResourceName``."""
    causes = qualified_name(field, name)
    if causes:
        return causes
    if "/" not in name:
        if name not in STANDARD_CONTAINER_RESOURCES and not _is_hugepages(name):
            return [invalid(field, name, "must be a standard resource for containers")]
    elif not _is_native(name) and not _is_extended(name):
        return [invalid(field, name, "doesn't follow extended resource name standard")]
    return []


def resource_requirements(path: str, resources: Any) -> Causes:
    """``ValidateContainerResourceRequirements``: names, non-negative, requests <= limits."""
    causes: Causes = []
    limits, requests = _map(_d(resources, "limits")), _map(_d(resources, "requests"))
    parsed_limits: dict[str, quantity.Quantity] = {}
    for name, raw in limits.items():
        field = f"{path}.limits[{name}]"
        causes += container_resource_name(field, name)
        q = _quantity(raw)
        if q is not None:
            parsed_limits[name] = q
            causes += quantity_value(field, name, q)
    for name, raw in requests.items():
        field = f"{path}.requests[{name}]"
        causes += container_resource_name(field, name)
        q = _quantity(raw)
        if q is None:
            continue
        causes += quantity_value(field, name, q)
        limit = parsed_limits.get(name)
        if limit is not None:
            if q != limit and not _overcommit_allowed(name):
                causes.append(invalid(f"{path}.requests", str(q), f"must be equal to {name} limit of {limit}"))
            elif q > limit:
                causes.append(invalid(f"{path}.requests", str(q),
                                      f"must be less than or equal to {name} limit of {limit}"))
        elif name not in limits and not _overcommit_allowed(name):
            causes.append(required(f"{path}.limits", "Limit must be set for non overcommitable resources"))
    return causes


# --------------------------------------------------------------------- pod specs


_HANDLERS = ("exec", "httpGet", "tcpSocket", "grpc")
_LIFECYCLE_HANDLERS = ("exec", "httpGet", "tcpSocket", "sleep")


def _handler(path: str, handler: dict, kinds: tuple[str, ...]) -> Causes:
    """``validateHandler``: exactly one handler type, with valid ports."""
    causes: Causes = []
    present = [k for k in kinds if handler.get(k) is not None]
    if not present:
        return [required(path, "must specify a handler type")]
    for extra in present[1:]:
        causes.append(forbidden(f"{path}.{extra}", "may not specify more than 1 handler type"))
    kind = present[0]
    action = _map(handler[kind])
    if kind == "exec" and not _list(action.get("command")):
        causes.append(required(f"{path}.exec.command"))
    elif kind == "httpGet":
        causes += port_number_or_name(f"{path}.httpGet.port", action.get("port"))
        scheme = action.get("scheme")
        if scheme is not None and scheme not in ("HTTP", "HTTPS"):
            causes.append(not_supported(f"{path}.httpGet.scheme", scheme, ("HTTP", "HTTPS")))
    elif kind == "tcpSocket":
        causes += port_number_or_name(f"{path}.tcpSocket.port", action.get("port"))
    elif kind == "grpc":
        causes += port_number(f"{path}.grpc.port", action.get("port"))
    return causes


def _probe(path: str, probe: Any, kind: str) -> Causes:
    """``validateProbe`` and the liveness/readiness/startup specifics (unset fields take
    their defaults, e.g. ``successThreshold: 1``)."""
    if not isinstance(probe, dict):
        return []
    causes = _handler(path, probe, _HANDLERS)
    for name in ("initialDelaySeconds", "timeoutSeconds", "periodSeconds", "successThreshold", "failureThreshold"):
        causes += nonnegative(f"{path}.{name}", probe.get(name))
    grace = probe.get("terminationGracePeriodSeconds")
    if kind == "readinessProbe" and grace is not None:
        causes.append(invalid(f"{path}.terminationGracePeriodSeconds", grace, "must not be set for readinessProbes"))
    elif _int(grace) and grace <= 0:
        causes.append(invalid(f"{path}.terminationGracePeriodSeconds", grace, "must be greater than 0"))
    success = probe.get("successThreshold")
    if kind in ("livenessProbe", "startupProbe") and success is not None and success != 1:
        causes.append(invalid(f"{path}.successThreshold", success, "must be 1"))
    return causes


def _container_ports(path: str, ports: Any) -> Causes:
    """``validateContainerPorts``."""
    causes: Causes = []
    names: set[str] = set()
    for i, port in enumerate(_list(ports)):
        at = f"{path}[{i}]"
        name = _d(port, "name")
        if name:
            problems = port_name(f"{at}.name", name)
            if problems:
                causes += problems
            elif name in names:
                causes.append(duplicate(f"{at}.name", name))
            names.add(name)
        number = _d(port, "containerPort")
        if number == 0:
            causes.append(required(f"{at}.containerPort"))
        else:
            causes += port_number(f"{at}.containerPort", number)
        if _d(port, "hostPort"):
            causes += port_number(f"{at}.hostPort", _d(port, "hostPort"))
    return causes


def _volume_mounts(path: str, mounts: Any, volumes: set[str]) -> Causes:
    """``ValidateVolumeMounts``: each names a volume of the pod; mount paths unique."""
    causes: Causes = []
    seen: set[str] = set()
    for i, mount in enumerate(_list(mounts)):
        at = f"{path}[{i}]"
        name, mount_path = _d(mount, "name"), _d(mount, "mountPath")
        if not name:
            causes.append(required(f"{at}.name"))
        if name not in volumes:
            causes.append(not_found(f"{at}.name", name))
        if not mount_path:
            causes.append(required(f"{at}.mountPath"))
        elif mount_path in seen:
            causes.append(invalid(f"{at}.mountPath", mount_path, "must be unique"))
        seen.add(mount_path)
    return causes


def _container(path: str, ctr: dict, volumes: set[str]) -> Causes:
    """``validateContainerCommon``."""
    causes: Causes = []
    name = ctr.get("name")
    if not name:
        causes.append(required(f"{path}.name"))
    else:
        causes += dns1123_label(f"{path}.name", name)
    if not ctr.get("image"):
        causes.append(required(f"{path}.image"))
    causes += _container_ports(f"{path}.ports", ctr.get("ports"))
    causes += _volume_mounts(f"{path}.volumeMounts", ctr.get("volumeMounts"), volumes)
    causes += resource_requirements(f"{path}.resources", ctr.get("resources"))
    return causes


def _volumes(path: str, volumes: Any) -> tuple[set[str], Causes]:
    """``ValidateVolumes``: unique DNS-label names, exactly one source, emptyDir size >= 0."""
    causes: Causes = []
    names: set[str] = set()
    for i, vol in enumerate(_list(volumes)):
        at = f"{path}[{i}]"
        if not isinstance(vol, dict):
            continue
        name = vol.get("name")
        if not name:
            causes.append(required(f"{at}.name"))
        else:
            causes += dns1123_label(f"{at}.name", name)
            if name in names:
                causes.append(duplicate(f"{at}.name", name))
            names.add(name)
        sources = [k for k, v in vol.items() if k != "name" and v is not None]
        if not sources:
            causes.append(required(at, "must specify a volume type"))
        for extra in sources[1:]:
            causes.append(forbidden(f"{at}.{extra}", "may not specify more than 1 volume type"))
        size_limit = _d(vol, "emptyDir", "sizeLimit")
        size = _quantity(size_limit) if size_limit is not None else None
        if size is not None and size.value < 0:
            causes.append(forbidden(f"{at}.emptyDir.sizeLimit", "SizeLimit field must be a valid resource quantity"))
    return names, causes


def pod_spec_errors(spec: Any, path: str) -> Causes:
    """``ValidatePodSpec`` (the parts that matter here) of the pod spec at ``path``."""
    if not isinstance(spec, dict):
        return []
    volumes, causes = _volumes(f"{path}.volumes", spec.get("volumes"))
    containers = [c for c in _list(spec.get("containers")) if isinstance(c, dict)]
    init_containers = [c for c in _list(spec.get("initContainers")) if isinstance(c, dict)]
    if not containers:
        causes.append(required(f"{path}.containers"))
    names: set[str] = set()
    for i, ctr in enumerate(containers):
        at = f"{path}.containers[{i}]"
        causes += _container(at, ctr, volumes)
        if ctr.get("name") in names:
            causes.append(duplicate(f"{at}.name", ctr.get("name")))
        names.add(ctr.get("name"))
        for kind in ("livenessProbe", "readinessProbe", "startupProbe"):
            causes += _probe(f"{at}.{kind}", ctr.get(kind), kind)
        for hook in ("postStart", "preStop"):
            handler = _d(ctr, "lifecycle", hook)
            if isinstance(handler, dict):
                causes += _handler(f"{at}.lifecycle.{hook}", handler, _LIFECYCLE_HANDLERS)
        if ctr.get("restartPolicy") is not None:
            causes.append(forbidden(f"{at}.restartPolicy", "may not be set for non-init containers"))
    for i, ctr in enumerate(init_containers):
        at = f"{path}.initContainers[{i}]"
        causes += _container(at, ctr, volumes)
        if ctr.get("name") in names:
            causes.append(duplicate(f"{at}.name", ctr.get("name")))
        names.add(ctr.get("name"))
        sidecar = ctr.get("restartPolicy") == "Always"
        if ctr.get("restartPolicy") not in (None, "Always"):
            causes.append(not_supported(f"{at}.restartPolicy", ctr["restartPolicy"], ("Always",)))
        for kind in ("lifecycle", "livenessProbe", "readinessProbe", "startupProbe"):
            if ctr.get(kind) is None:
                continue
            if not sidecar:
                causes.append(forbidden(f"{at}.{kind}", "may not be set for init containers without "
                                        "restartPolicy=Always"))
            elif kind != "lifecycle":
                causes += _probe(f"{at}.{kind}", ctr.get(kind), kind)
    deadline = spec.get("activeDeadlineSeconds")
    if _int(deadline) and not 1 <= deadline <= MAX_INT32:
        causes.append(invalid(f"{path}.activeDeadlineSeconds", deadline,
                              f"must be between 1 and {MAX_INT32}, inclusive"))
    if spec.get("serviceAccountName"):
        causes += dns1123_subdomain(f"{path}.serviceAccountName", spec["serviceAccountName"])
    for name in ("hostname", "subdomain"):
        if spec.get(name):
            causes += dns1123_label(f"{path}.{name}", spec[name])
    causes += labels(f"{path}.nodeSelector", spec.get("nodeSelector"))
    return causes


def template_metadata_errors(template: Any, path: str) -> Causes:
    """``ValidatePodTemplateSpec``'s metadata part (Go reports ``template.labels``)."""
    return labels(f"{path}.labels", _d(template, "metadata", "labels"))


# ------------------------------------------------------------------ kind rules


def _ranges(obj: dict, table: dict[str, Callable[[str, Any], Causes]]) -> Causes:
    causes: Causes = []
    for path, check in table.items():
        value = _d(obj, *path.split("."))
        if value is not None:
            causes += check(path, value)
    return causes


def _selector_and_template(obj: dict, kind_word: str, *, required_selector: bool = True) -> Causes:
    """Workload selector: required, non-empty, valid, and matching the template's labels."""
    spec = _map(obj.get("spec"))
    selector = spec.get("selector")
    causes: Causes = []
    if selector is None:
        if required_selector:
            causes.append(required("spec.selector"))
        return causes
    causes += label_selector("spec.selector", selector)
    if _selector_is_empty(selector):
        causes.append(invalid("spec.selector", selector, f"empty selector is invalid for {kind_word}"))
        return causes
    template_labels = _map(_d(spec, "template", "metadata", "labels"))
    if not selector_matches(selector, template_labels):
        causes.append(invalid("spec.template.metadata.labels", template_labels, MSG_SELECTOR_MISMATCH))
    return causes


def deployment(obj: dict, old: dict | None) -> Causes:
    spec = _map(obj.get("spec"))
    causes = _ranges(obj, {"spec.replicas": nonnegative, "spec.minReadySeconds": nonnegative,
                           "spec.revisionHistoryLimit": nonnegative, "spec.progressDeadlineSeconds": nonnegative})
    deadline, min_ready = spec.get("progressDeadlineSeconds"), spec.get("minReadySeconds", 0)
    if _int(deadline) and _int(min_ready) and deadline <= min_ready:
        causes.append(invalid("spec.progressDeadlineSeconds", deadline, "must be greater than minReadySeconds"))
    causes += _selector_and_template(obj, "deployment")
    if _d(spec, "template", "spec", "activeDeadlineSeconds") is not None:
        causes.append(forbidden("spec.template.spec.activeDeadlineSeconds",
                                "activeDeadlineSeconds in ReplicaSet is not Supported"))
    strategy = _map(spec.get("strategy"))
    rolling = strategy.get("rollingUpdate")
    if strategy.get("type") == "Recreate" and rolling is not None:
        causes.append(forbidden("spec.strategy.rollingUpdate", "may not be specified when strategy `type` is "
                                "'Recreate'"))
    elif strategy.get("type") == "RollingUpdate" and isinstance(rolling, dict):
        path = "spec.strategy.rollingUpdate"
        unavailable, surge = rolling.get("maxUnavailable"), rolling.get("maxSurge")
        causes += int_or_percent(f"{path}.maxUnavailable", unavailable)
        causes += int_or_percent(f"{path}.maxSurge", surge, at_most_100=False)
        as_int = lambda v: _percent(v) if isinstance(v, str) else v  # noqa: E731
        if as_int(unavailable) == 0 and as_int(surge) == 0:
            causes.append(invalid(f"{path}.maxUnavailable", unavailable, "may not be 0 when `maxSurge` is 0"))
    return causes


def statefulset(obj: dict, old: dict | None) -> Causes:
    spec = _map(obj.get("spec"))
    causes = _ranges(obj, {"spec.replicas": nonnegative, "spec.minReadySeconds": nonnegative,
                           "spec.ordinals.start": nonnegative,
                           "spec.updateStrategy.rollingUpdate.partition": nonnegative})
    strategy = _map(spec.get("updateStrategy"))
    if strategy.get("type") == "OnDelete" and strategy.get("rollingUpdate") is not None:
        causes.append(invalid("spec.updateStrategy.rollingUpdate", strategy["rollingUpdate"],
                              "only allowed for updateStrategy 'RollingUpdate'"))
    causes += _selector_and_template(obj, "statefulset")
    if _d(spec, "template", "spec", "activeDeadlineSeconds") is not None:
        causes.append(forbidden("spec.template.spec.activeDeadlineSeconds",
                                "activeDeadlineSeconds in StatefulSet is not Supported"))
    return causes


def _job_spec(spec: Any, path: str) -> Causes:
    """``validateJobSpec`` (counters and completion mode; the template is checked as a pod spec)."""
    spec = _map(spec)
    causes: Causes = []
    for name in ("parallelism", "completions", "activeDeadlineSeconds", "backoffLimit",
                 "ttlSecondsAfterFinished", "backoffLimitPerIndex", "maxFailedIndexes"):
        causes += nonnegative(f"{path}.{name}", spec.get(name))
    if spec.get("completionMode") == "Indexed" and spec.get("completions") is None:
        causes.append(required(f"{path}.completions", "when completion mode is Indexed"))
    if spec.get("completionMode", "NonIndexed") == "NonIndexed":
        for name in ("backoffLimitPerIndex", "maxFailedIndexes"):
            if spec.get(name) is not None:
                causes.append(invalid(f"{path}.{name}", spec[name], "requires indexed completion mode"))
    return causes


def job(obj: dict, old: dict | None) -> Causes:
    spec = _map(obj.get("spec"))
    causes = _job_spec(spec, "spec")
    if spec.get("manualSelector") is True:
        # Otherwise the server generates the selector and the template's labels itself.
        causes += _selector_and_template(obj, "job")
    return causes


# robfig/cron (the parser behind CronJob schedules): field bounds and names.
_CRON_FIELDS = (("minute", 0, 59, {}), ("hour", 0, 23, {}), ("dom", 1, 31, {}),
                ("month", 1, 12, {m: i + 1 for i, m in enumerate(
                    "jan feb mar apr may jun jul aug sep oct nov dec".split())}),
                ("dow", 0, 6, {d: i for i, d in enumerate("sun mon tue wed thu fri sat".split())}))
_CRON_DESCRIPTORS = {"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"}


def cron_error(schedule: str) -> str | None:
    """``cron.ParseStandard``'s error for ``schedule`` (None when it parses)."""
    spec = schedule.strip()
    if spec.startswith(("TZ=", "CRON_TZ=")):
        tz, _, spec = spec.partition(" ")
        try:
            zoneinfo.ZoneInfo(tz.split("=", 1)[1])
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            return f"provided bad location {tz.split('=', 1)[1]}: unknown time zone {tz.split('=', 1)[1]}"
        spec = spec.strip()
    if spec.startswith("@"):
        if spec in _CRON_DESCRIPTORS:
            return None
        if spec.startswith("@every "):
            return None if re.fullmatch(r"@every ([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+", spec) \
                else f"failed to parse duration {spec}"
        return f"unrecognized descriptor: {spec}"
    fields = spec.split()
    if len(fields) != 5:
        return f"expected exactly 5 fields, found {len(fields)}: [{' '.join(fields)}]"
    for text, (_, low, high, names) in zip(fields, _CRON_FIELDS):
        for expr in text.split(","):
            problem = _cron_range(expr, low, high, names)
            if problem:
                return problem
    return None


def _cron_range(expr: str, low: int, high: int, names: dict[str, int]) -> str | None:
    """robfig/cron ``getRange``: ``*``, ``N``, ``N-M``, each with an optional ``/step``."""
    range_and_step = expr.split("/")
    low_and_high = range_and_step[0].split("-")

    def number(text: str, names: dict[str, int]) -> tuple[int, str | None]:
        if text.lower() in names:
            return names[text.lower()], None
        if not re.fullmatch(r"[+-]?[0-9]+", text):
            return 0, f'failed to parse int from {text}: strconv.Atoi: parsing "{text}": invalid syntax'
        if int(text) < 0:
            return 0, f"negative number ({int(text)}) not allowed: {text}"
        return int(text), None

    if low_and_high[0] in ("*", "?"):
        start, end = low, high
    else:
        start, err = number(low_and_high[0], names)
        if err:
            return err
        if len(low_and_high) > 2:
            return f"too many hyphens: {expr}"
        end = start
        if len(low_and_high) == 2:
            end, err = number(low_and_high[1], names)
            if err:
                return err
    step = 1
    if len(range_and_step) > 2:
        return f"too many slashes: {expr}"
    if len(range_and_step) == 2:
        step, err = number(range_and_step[1], {})
        if err:
            return err
        if len(low_and_high) == 1:
            end = high  # "N/step" means "N-max/step"
    if start < low:
        return f"beginning of range ({start}) below minimum ({low}): {expr}"
    if end > high:
        return f"end of range ({end}) above maximum ({high}): {expr}"
    if start > end:
        return f"beginning of range ({start}) beyond end of range ({end}): {expr}"
    if step == 0:
        return f"step of range should be a positive number: {expr}"
    return None


def cronjob(obj: dict, old: dict | None) -> Causes:
    spec = _map(obj.get("spec"))
    causes = _ranges(obj, {"spec.startingDeadlineSeconds": nonnegative,
                           "spec.successfulJobsHistoryLimit": nonnegative,
                           "spec.failedJobsHistoryLimit": nonnegative})
    schedule = spec.get("schedule")
    if not schedule:
        causes.append(required("spec.schedule"))
    elif isinstance(schedule, str):
        problem = cron_error(schedule)
        if problem:
            causes.append(invalid("spec.schedule", schedule, problem))
        if "TZ" in schedule and not (old and "TZ" in str(_d(old, "spec", "schedule") or "")):
            causes.append(invalid("spec.schedule", schedule,
                                  "cannot use TZ or CRON_TZ in schedule, use timeZone field instead"))
    tz = spec.get("timeZone")
    if tz is not None and (old is None or _d(old, "spec", "timeZone") != tz):
        if tz == "":
            causes.append(invalid("spec.timeZone", tz, "timeZone must be nil or non-empty string"))
        elif tz.lower() == "local":
            causes.append(invalid("spec.timeZone", tz, "timeZone must be an explicit time zone as defined in "
                                  "https://www.iana.org/time-zones"))
        else:
            try:
                zoneinfo.ZoneInfo(tz)
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                causes.append(invalid("spec.timeZone", tz, f"unknown time zone {tz}"))
    job_spec = _d(spec, "jobTemplate", "spec")
    causes += _job_spec(job_spec, "spec.jobTemplate.spec")
    if _d(job_spec, "selector") is not None:
        causes.append(invalid("spec.jobTemplate.spec.selector", _d(job_spec, "selector"),
                              "`selector` will be auto-generated"))
    if _d(job_spec, "manualSelector") is True:
        causes.append(not_supported("spec.jobTemplate.spec.manualSelector", True, ("nil", "false")))
    name = _d(obj, "metadata", "name")
    if old is None and isinstance(name, str) and len(name) > 52:
        causes.append(invalid("metadata.name", name, "must be no more than 52 characters"))
    return causes


def _go_service_port(port: dict) -> str:
    target = port.get("targetPort")
    target_go = (f'intstr.IntOrString{{Type:1, IntVal:0, StrVal:{json.dumps(target)}}}' if isinstance(target, str)
                 else f'intstr.IntOrString{{Type:0, IntVal:{target or 0}, StrVal:""}}')
    return (f'core.ServicePort{{Name:"", Protocol:{json.dumps(port.get("protocol", "TCP"))}, '
            f'AppProtocol:(*string)(nil), Port:{port.get("port", 0)}, TargetPort:{target_go}, NodePort:0}}')


def service(obj: dict, old: dict | None) -> Causes:
    spec = _map(obj.get("spec"))
    svc_type = spec.get("type", "ClusterIP")
    headless = spec.get("clusterIP") == "None"
    ports = [p for p in _list(spec.get("ports")) if isinstance(p, dict)]
    causes: Causes = []
    if not ports and not headless and svc_type != "ExternalName":
        causes.append(required("spec.ports"))
    if svc_type == "ExternalName":
        name = (spec.get("externalName") or "").rstrip(".")
        causes += dns1123_subdomain("spec.externalName", name) if name else [required("spec.externalName")]
    names: set[str] = set()
    seen: set[tuple] = set()
    node_ports: set[tuple] = set()
    for i, port in enumerate(ports):
        at = f"spec.ports[{i}]"
        name = port.get("name")
        if len(ports) > 1 and not name:
            causes.append(required(f"{at}.name"))
        elif name:
            causes += dns1123_label(f"{at}.name", name)
            if name in names:
                causes.append(duplicate(f"{at}.name", name))
            names.add(name)
        causes += port_number(f"{at}.port", port.get("port"))
        if port.get("targetPort") is not None:
            causes += port_number_or_name(f"{at}.targetPort", port.get("targetPort"))
        node_port = port.get("nodePort")
        if node_port:
            if svc_type == "ClusterIP":
                causes.append(forbidden(f"{at}.nodePort", "may not be used when `type` is 'ClusterIP'"))
            elif _int(node_port) and not NODE_PORT_RANGE[0] <= node_port <= NODE_PORT_RANGE[1]:
                causes.append(invalid(f"{at}.nodePort", node_port, "provided port is not in the valid range. The "
                                      f"range of valid ports is {NODE_PORT_RANGE[0]}-{NODE_PORT_RANGE[1]}"))
            key = (port.get("protocol", "TCP"), node_port)
            if key in node_ports:
                causes.append(duplicate(f"{at}.nodePort", node_port))
            node_ports.add(key)
        key = (port.get("protocol", "TCP"), port.get("port"))
        if key in seen:
            causes.append(cause(at, f"Duplicate value: {_go_service_port(port)}", "FieldValueDuplicate"))
        seen.add(key)
    causes += labels("spec.selector", spec.get("selector"))
    return causes


def _network_policy_port(path: str, port: dict) -> Causes:
    """``ValidateNetworkPolicyPort``."""
    causes: Causes = []
    protocol = port.get("protocol")
    if protocol is not None and protocol not in ("TCP", "UDP", "SCTP"):
        causes.append(not_supported(f"{path}.protocol", protocol, ("TCP", "UDP", "SCTP")))
    number, end = port.get("port"), port.get("endPort")
    if number is None:
        if end is not None:
            causes.append(invalid(f"{path}.endPort", end, "may not be specified when `port` is not specified"))
    elif isinstance(number, str):
        if end is not None:
            causes.append(invalid(f"{path}.endPort", end, "may not be specified when `port` is non-numeric"))
        causes += port_name(f"{path}.port", number)
    else:
        causes += port_number(f"{path}.port", number)
        if _int(end):
            if _int(number) and end < number:
                causes.append(invalid(f"{path}.endPort", number, "must be greater than or equal to `port`"))
            causes += port_number(f"{path}.endPort", end)
    return causes


def _cidr(path: str, value: Any) -> Causes:
    try:
        ipaddress.ip_network(value, strict=False)
        if "/" not in str(value):
            raise ValueError(value)
    except (ValueError, TypeError):
        return [invalid(path, value, "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)")]
    return []


def _network_policy_peer(path: str, peer: dict) -> Causes:
    """``ValidateNetworkPolicyPeer``."""
    causes: Causes = []
    kinds = [k for k in ("podSelector", "namespaceSelector", "ipBlock") if peer.get(k) is not None]
    for kind in ("podSelector", "namespaceSelector"):
        if peer.get(kind) is not None:
            causes += label_selector(f"{path}.{kind}", peer[kind])
    block = peer.get("ipBlock")
    if isinstance(block, dict):
        cidr = block.get("cidr")
        if not cidr:
            causes.append(required(f"{path}.ipBlock.cidr"))
        else:
            causes += _cidr(f"{path}.ipBlock.cidr", cidr)
            for i, exc in enumerate(_list(block.get("except"))):
                problem = _cidr(f"{path}.ipBlock.except[{i}]", exc)
                if problem:
                    causes += problem
                    continue
                outer, inner = ipaddress.ip_network(cidr, strict=False), ipaddress.ip_network(exc, strict=False)
                strict_subset = inner.version == outer.version and inner != outer \
                    and inner.subnet_of(outer)  # type: ignore[arg-type]
                if not strict_subset:
                    causes.append(invalid(f"{path}.ipBlock.except[{i}]", exc, "must be a strict subset of `cidr`"))
    if not kinds:
        causes.append(required(path, "must specify a peer"))
    elif len(kinds) > 1 and "ipBlock" in kinds:
        causes.append(forbidden(path, "may not specify both ipBlock and another peer"))
    return causes


def network_policy(obj: dict, old: dict | None) -> Causes:
    spec = _map(obj.get("spec"))
    causes = label_selector("spec.podSelector", spec.get("podSelector"))
    for direction, peers in (("ingress", "from"), ("egress", "to")):
        for i, rule in enumerate(_list(spec.get(direction))):
            for j, port in enumerate(_list(_d(rule, "ports"))):
                if isinstance(port, dict):
                    causes += _network_policy_port(f"spec.{direction}[{i}].ports[{j}]", port)
            for j, peer in enumerate(_list(_d(rule, peers))):
                if isinstance(peer, dict):
                    causes += _network_policy_peer(f"spec.{direction}[{i}].{peers}[{j}]", peer)
    types = _list(spec.get("policyTypes"))
    if len(types) > 2:
        causes.append(invalid("spec.policyTypes", types, "may not specify more than two policyTypes"))
    else:
        for i, ptype in enumerate(types):
            if ptype not in ("Ingress", "Egress"):
                causes.append(not_supported(f"spec.policyTypes[{i}]", ptype, ("Ingress", "Egress")))
    return causes


def _wildcard_or_subdomain(path: str, host: str) -> Causes:
    if host.startswith("*."):
        rest = host[2:]
        if "*" in rest or dns1123_subdomain(path, rest):
            return [invalid(path, host, "a wildcard DNS-1123 subdomain must start with '*.', followed by a valid "
                            "DNS subdomain, which must consist of lower case alphanumeric characters, '-' or '.' and "
                            "end with an alphanumeric character (e.g. '*.example.com', regex used for validation is "
                            rf"'\*\.{DNS1123_SUBDOMAIN}')")]
        return []
    return dns1123_subdomain(path, host)


def _ingress_backend(path: str, backend: Any) -> Causes:
    """``validateIngressBackend``."""
    backend = _map(backend)
    svc, resource = backend.get("service"), backend.get("resource")
    if svc is not None and resource is not None:
        return [invalid(path, "", "cannot set both resource and service backends")]
    if resource is not None:
        return []
    if svc is None:
        return [required(path, "one of `service` or `resource` must be set")]
    causes: Causes = []
    name = _d(svc, "name")
    causes += dns1035_label(f"{path}.service.name", name) if name else [required(f"{path}.service.name")]
    port_name_, port_num = _d(svc, "port", "name"), _d(svc, "port", "number")
    if port_name_ and port_num:
        causes.append(invalid(path, "", "cannot set both port name & port number"))
    elif port_name_:
        causes += port_name(f"{path}.service.port.name", port_name_)
    elif port_num:
        causes += port_number(f"{path}.service.port.number", port_num)
    else:
        causes.append(required(path, "port name or number is required"))
    return causes


def ingress(obj: dict, old: dict | None) -> Causes:
    spec = _map(obj.get("spec"))
    causes: Causes = []
    rules = _list(spec.get("rules"))
    if spec.get("defaultBackend") is None and not rules:
        causes.append(invalid("spec", _d(obj, "spec"), "either `defaultBackend` or `rules` must be specified"))
    if spec.get("defaultBackend") is not None:
        causes += _ingress_backend("spec.defaultBackend", spec["defaultBackend"])
    if spec.get("ingressClassName"):
        causes += dns1123_subdomain("spec.ingressClassName", spec["ingressClassName"])
    for i, rule in enumerate(rules):
        at = f"spec.rules[{i}]"
        host = _d(rule, "host")
        if host:
            try:
                ipaddress.ip_address(host)
                causes.append(invalid(f"{at}.host", host, "must be a DNS name, not an IP address"))
            except ValueError:
                causes += _wildcard_or_subdomain(f"{at}.host", host)
        http = _d(rule, "http")
        if http is None:
            continue
        paths = _list(_d(http, "paths"))
        if not paths:
            causes.append(required(f"{at}.http.paths"))
        for j, item in enumerate(paths):
            pat = f"{at}.http.paths[{j}]"
            path_type, value = _d(item, "pathType"), _d(item, "path") or ""
            if path_type is None:
                causes.append(required(f"{pat}.pathType", "pathType must be specified"))
                continue
            if path_type in ("Exact", "Prefix"):
                if not value.startswith("/"):
                    causes.append(invalid(f"{pat}.path", value, "must be an absolute path"))
                for seq in ("//", "/./", "/../", "%2f", "%2F"):
                    if seq in value:
                        causes.append(invalid(f"{pat}.path", value, f"must not contain '{seq}'"))
                for suffix in ("/..", "/."):
                    if value.endswith(suffix):
                        causes.append(invalid(f"{pat}.path", value, f"cannot end with '{suffix}'"))
            elif path_type == "ImplementationSpecific":
                if value and not value.startswith("/"):
                    causes.append(invalid(f"{pat}.path", value, "must be an absolute path"))
            else:
                causes.append(not_supported(f"{pat}.pathType", path_type, ("Exact", "ImplementationSpecific",
                                                                         "Prefix")))
            causes += _ingress_backend(f"{pat}.backend", _d(item, "backend"))
    for i, tls in enumerate(_list(spec.get("tls"))):
        for j, host in enumerate(_list(_d(tls, "hosts"))):
            if isinstance(host, str):
                causes += _wildcard_or_subdomain(f"spec.tls[{i}].hosts[{j}]", host)
        if _d(tls, "secretName"):
            causes += dns1123_subdomain(f"spec.tls[{i}].secretName", _d(tls, "secretName"))
    return causes


def pod_disruption_budget(obj: dict, old: dict | None) -> Causes:
    spec = _map(obj.get("spec"))
    causes: Causes = []
    if spec.get("minAvailable") is not None and spec.get("maxUnavailable") is not None:
        causes.append(invalid("spec", spec, "minAvailable and maxUnavailable cannot be both set"))
    for name in ("minAvailable", "maxUnavailable"):
        causes += int_or_percent(f"spec.{name}", spec.get(name))
    causes += label_selector("spec.selector", spec.get("selector"))
    policy = spec.get("unhealthyPodEvictionPolicy")
    if policy is not None and policy not in ("AlwaysAllow", "IfHealthyBudget"):
        causes.append(not_supported("spec.unhealthyPodEvictionPolicy", policy, ("AlwaysAllow", "IfHealthyBudget")))
    return causes


def _pvc_spec(spec: Any, path: str) -> Causes:
    """``ValidatePersistentVolumeClaimSpec``."""
    spec = _map(spec)
    causes: Causes = []
    modes = _list(spec.get("accessModes"))
    if not modes:
        causes.append(required(f"{path}.accessModes", "at least 1 access mode is required"))
    elif "ReadWriteOncePod" in modes and len(set(modes)) > 1:
        causes.append(forbidden(f"{path}.accessModes", "may not use ReadWriteOncePod with other access modes"))
    raw = _d(spec, "resources", "requests", "storage")
    field = f"{path}.resources[storage]"
    if raw is None:
        causes.append(required(field))
    else:
        q = _quantity(raw)
        if q is not None and q.value <= 0:
            causes.append(invalid(field, str(q), "must be greater than zero"))
    if spec.get("storageClassName"):
        causes += dns1123_subdomain(f"{path}.storageClassName", spec["storageClassName"])
    if spec.get("selector") is not None:
        causes += label_selector(f"{path}.selector", spec["selector"])
    return causes


def persistent_volume_claim(obj: dict, old: dict | None) -> Causes:
    return _pvc_spec(obj.get("spec"), "spec")


def resource_quota(obj: dict, old: dict | None) -> Causes:
    causes: Causes = []
    for name, raw in _map(_d(obj, "spec", "hard")).items():
        field = f"spec.hard[{name}]"
        problems = _resource_name(field, name)
        if not problems and "/" not in name and name not in STANDARD_QUOTA_RESOURCES \
                and not _is_hugepages(name) and not name.startswith("requests.hugepages-"):
            problems.append(invalid(field, name, "must be a standard resource for quota"))
        causes += problems
        q = _quantity(raw)
        if q is not None:
            causes += quantity_value(field, name, q)
    return causes


def limit_range(obj: dict, old: dict | None) -> Causes:
    """``ValidateLimitRange`` (which, unlike quotas, lets negative values through)."""
    causes: Causes = []
    types: set[str] = set()
    for i, limit in enumerate(_list(_d(obj, "spec", "limits"))):
        at = f"spec.limits[{i}]"
        ltype = _d(limit, "type")
        if isinstance(ltype, str):
            causes += qualified_name(f"{at}.type", ltype)
            if "/" not in ltype and ltype not in ("Pod", "Container", "PersistentVolumeClaim"):
                causes.append(invalid(f"{at}.type", ltype, "must be a standard limit type or fully qualified"))
            if ltype in types:
                causes.append(duplicate(f"{at}.type", ltype))
            types.add(ltype)
        name_check = container_resource_name if ltype in ("Pod", "Container") else _resource_name
        groups: dict[str, dict[str, quantity.Quantity]] = {}
        for group in ("max", "min", "default", "defaultRequest", "maxLimitRequestRatio"):
            values = _map(_d(limit, group))
            if ltype == "Pod" and group in ("default", "defaultRequest"):
                if values:
                    causes.append(forbidden(f"{at}.{group}", "may not be specified when `type` is 'Pod'"))
                continue
            parsed = {}
            for name, raw in values.items():
                causes += name_check(f"{at}.{group}[{name}]", name)
                q = _quantity(raw)
                if q is not None:
                    parsed[name] = q
            groups[group] = parsed
        if ltype == "PersistentVolumeClaim" and "storage" not in groups["min"] and "storage" not in groups["max"]:
            causes.append(required(f"{at}.limits", "either minimum or maximum storage value is required, but "
                                   "neither was provided"))
        causes += _limit_relations(at, groups)
    return causes


def _limit_relations(at: str, groups: dict[str, dict[str, quantity.Quantity]]) -> Causes:
    causes: Causes = []
    lo, hi = groups.get("min", {}), groups.get("max", {})
    dflt, dreq = groups.get("default", {}), groups.get("defaultRequest", {})
    ratio = groups.get("maxLimitRequestRatio", {})
    for k in sorted(set().union(*groups.values())):
        mn, mx, df, dr, rt = lo.get(k), hi.get(k), dflt.get(k), dreq.get(k), ratio.get(k)
        if mn is not None and mx is not None and mn > mx:
            causes.append(invalid(f"{at}.min[{k}]", str(mn), f"min value {mn} is greater than max value {mx}"))
        if dr is not None and mn is not None and mn > dr:
            causes.append(invalid(f"{at}.defaultRequest[{k}]", str(dr),
                                  f"min value {mn} is greater than default request value {dr}"))
        if dr is not None and mx is not None and dr > mx:
            causes.append(invalid(f"{at}.defaultRequest[{k}]", str(dr),
                                  f"default request value {dr} is greater than max value {mx}"))
        if dr is not None and df is not None and dr > df:
            causes.append(invalid(f"{at}.defaultRequest[{k}]", str(dr),
                                  f"default request value {dr} is greater than default limit value {df}"))
        if df is not None and mn is not None and mn > df:
            causes.append(invalid(f"{at}.default[{k}]", str(mn), f"min value {mn} is greater than default value {df}"))
        if df is not None and mx is not None and df > mx:
            # Go reports the max value here, not the default: kept as the real server says it.
            causes.append(invalid(f"{at}.default[{k}]", str(mx), f"default value {df} is greater than max value {mx}"))
        if rt is not None and rt.value < 1:
            causes.append(invalid(f"{at}.maxLimitRequestRatio[{k}]", str(rt), f"ratio {rt} is less than 1"))
        if rt is not None and mn is not None and mx is not None and mn.value > 0 and rt.value > mx.value / mn.value:
            causes.append(invalid(f"{at}.maxLimitRequestRatio[{k}]", str(rt),
                                  f"ratio {rt} is greater than max/min = {float(mx.value / mn.value):f}"))
        if not _overcommit_allowed(k) and df is not None and dr is not None and df != dr:
            causes.append(invalid(f"{at}.defaultRequest[{k}]", str(dr),
                                  f"default value {df} must equal to defaultRequest value {dr} in {k}"))
    return causes


def _decoded(value: Any) -> bytes | None:
    try:
        return base64.b64decode(str(value), validate=False)
    except (binascii.Error, ValueError):
        return None


def secret(obj: dict, old: dict | None) -> Causes:
    """``ValidateSecret``: the keys each Secret type needs (``stringData`` is folded in by now)."""
    data = _map(obj.get("data"))
    stype = obj.get("type", "Opaque")
    causes: Causes = []

    def json_key(key: str) -> None:
        if key not in data:
            causes.append(required(f"data[{key}]"))
            return
        try:
            json.loads(_decoded(data[key]) or b"")
        except ValueError as exc:
            causes.append(invalid(f"data[{key}]", "<secret contents redacted>", str(exc)))

    if stype == "kubernetes.io/dockerconfigjson":
        json_key(".dockerconfigjson")
    elif stype == "kubernetes.io/dockercfg":
        json_key(".dockercfg")
    elif stype == "kubernetes.io/basic-auth" and "username" not in data and "password" not in data:
        causes += [required("data[username]"), required("data[password]")]
    elif stype == "kubernetes.io/ssh-auth" and not data.get("ssh-privatekey"):
        causes.append(required("data[ssh-privatekey]"))
    elif stype == "kubernetes.io/tls":
        causes += [required(f"data[{k}]") for k in ("tls.crt", "tls.key") if k not in data]
    elif stype == "kubernetes.io/service-account-token":
        if not _d(obj, "metadata", "annotations", "kubernetes.io/service-account.name"):
            causes.append(required("metadata.annotations[kubernetes.io/service-account.name]"))
    return causes


def config_map(obj: dict, old: dict | None) -> Causes:
    binary = _map(obj.get("binaryData"))
    return [invalid(f"data[{key}]", key, "duplicate of key present in binaryData")
            for key in _map(obj.get("data")) if key in binary]


_RBAC_GROUP = "rbac.authorization.k8s.io"


def role(obj: dict, old: dict | None) -> Causes:
    """``ValidatePolicyRule`` of each rule of a (namespaced) Role."""
    causes: Causes = []
    namespaced = obj.get("kind") == "Role"
    for i, rule in enumerate(_list(obj.get("rules"))):
        at = f"rules[{i}]"
        if not _list(_d(rule, "verbs")):
            causes.append(required(f"{at}.verbs", "verbs must contain at least one value"))
        urls = _list(_d(rule, "nonResourceURLs"))
        if urls:
            if namespaced:
                causes.append(invalid(f"{at}.nonResourceURLs", urls, "namespaced rules cannot apply to "
                                      "non-resource URLs"))
            if _d(rule, "apiGroups") or _d(rule, "resources") or _d(rule, "resourceNames"):
                causes.append(invalid(f"{at}.nonResourceURLs", urls, "rules cannot apply to both regular "
                                      "resources and non-resource URLs"))
            continue
        if not _list(_d(rule, "apiGroups")):
            causes.append(required(f"{at}.apiGroups", "resource rules must supply at least one api group"))
        if not _list(_d(rule, "resources")):
            causes.append(required(f"{at}.resources", "resource rules must supply at least one resource"))
    return causes


def role_binding(obj: dict, old: dict | None) -> Causes:
    """``ValidateRoleBinding`` (subjects' ``apiGroup`` as defaulted by the server)."""
    causes: Causes = []
    ref = _map(obj.get("roleRef"))
    if ref.get("apiGroup") != _RBAC_GROUP:
        causes.append(not_supported("roleRef.apiGroup", ref.get("apiGroup"), (_RBAC_GROUP,)))
    if ref.get("kind") not in ("Role", "ClusterRole"):
        causes.append(not_supported("roleRef.kind", ref.get("kind"), ("Role", "ClusterRole")))
    if not ref.get("name"):
        causes.append(required("roleRef.name"))
    elif ref["name"] in (".", "..") or "/" in ref["name"] or "%" in ref["name"]:
        causes.append(invalid("roleRef.name", ref["name"], "may not be '.' or '..' and may not contain '/' or '%'"))
    namespaced = obj.get("kind") == "RoleBinding"
    for i, subject in enumerate(_list(obj.get("subjects"))):
        at = f"subjects[{i}]"
        kind, name = _d(subject, "kind"), _d(subject, "name")
        if not name:
            causes.append(required(f"{at}.name"))
        if kind == "ServiceAccount":
            if name:
                causes += dns1123_subdomain(f"{at}.name", name)
            if _d(subject, "apiGroup"):
                causes.append(not_supported(f"{at}.apiGroup", _d(subject, "apiGroup"), ("",)))
            if not namespaced and not _d(subject, "namespace"):
                causes.append(required(f"{at}.namespace"))
        elif kind in ("User", "Group"):
            group = _d(subject, "apiGroup") if _d(subject, "apiGroup") is not None else _RBAC_GROUP
            if group != _RBAC_GROUP:
                causes.append(not_supported(f"{at}.apiGroup", group, (_RBAC_GROUP,)))
        else:
            causes.append(not_supported(f"{at}.kind", kind, ("ServiceAccount", "User", "Group")))
    return causes


#: kind -> object-level rules (besides the pod spec, see :data:`POD_SPECS`).
KIND_RULES: dict[str, tuple[Callable[[dict, dict | None], Causes], ...]] = {
    "Deployment": (deployment,),
    "StatefulSet": (statefulset,),
    "Job": (job,),
    "CronJob": (cronjob,),
    "Service": (service,),
    "NetworkPolicy": (network_policy,),
    "Ingress": (ingress,),
    "PodDisruptionBudget": (pod_disruption_budget,),
    "PersistentVolumeClaim": (persistent_volume_claim,),
    "ResourceQuota": (resource_quota,),
    "LimitRange": (limit_range,),
    "Secret": (secret,),
    "ConfigMap": (config_map,),
    "Role": (role,),
    "ClusterRole": (role,),
    "RoleBinding": (role_binding,),
    "ClusterRoleBinding": (role_binding,),
}

#: kind -> where its pod template (``ValidatePodTemplateSpec``) or pod spec lives.
POD_SPECS: dict[str, str] = {
    "Pod": "spec",
    "PodTemplate": "template.spec",
    "Deployment": "spec.template.spec",
    "ReplicaSet": "spec.template.spec",
    "DaemonSet": "spec.template.spec",
    "Job": "spec.template.spec",
    "CronJob": "spec.jobTemplate.spec.template.spec",
}

#: kind -> pod templates whose labels ``ValidatePodTemplateSpec`` checks (StatefulSets too).
TEMPLATES: dict[str, str] = {
    "PodTemplate": "template",
    "Deployment": "spec.template",
    "ReplicaSet": "spec.template",
    "DaemonSet": "spec.template",
    "StatefulSet": "spec.template",
    "Job": "spec.template",
    "CronJob": "spec.jobTemplate.spec.template",
}


def object_errors(kind: str, obj: dict, old: dict | None) -> Causes:
    """Every Go rule of ``kind`` for ``obj`` (``old``: the stored object on updates)."""
    causes: Causes = []
    for rule in KIND_RULES.get(kind, ()):
        causes += rule(obj, old)
    if kind in TEMPLATES:
        path = TEMPLATES[kind]
        causes += template_metadata_errors(_d(obj, *path.split(".")), path)
    if kind in POD_SPECS:
        path = POD_SPECS[kind]
        causes += pod_spec_errors(_d(obj, *path.split(".")), path)
    return causes
