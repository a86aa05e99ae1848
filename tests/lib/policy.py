"""Policy checks on rendered objects: what a reviewer of a tenant's manifests insists on.

Each check returns messages naming the object and the field; an empty list is a pass.
They are generic over kinds, so every role's objects get them without new test code.
"""

from __future__ import annotations

import re

POD_SPEC_PATHS = {
    "Pod": ("spec",),
    "Deployment": ("spec", "template", "spec"),
    "StatefulSet": ("spec", "template", "spec"),
    "DaemonSet": ("spec", "template", "spec"),
    "Job": ("spec", "template", "spec"),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
}
REQUIRED_LABELS = ("app.kubernetes.io/managed-by", "edp.platform/tenant", "edp.platform/environment",
                   "edp.platform/role", "app.kubernetes.io/name")
PINNED = re.compile(r"(:[A-Za-z0-9_][A-Za-z0-9_.-]*|@sha256:[a-f0-9]{64})$")


def name(obj):
    meta = obj["metadata"]
    return "%s %s/%s" % (obj["kind"], meta.get("namespace", "-"), meta["name"])


def _dig(obj, path):
    for part in path:
        obj = (obj or {}).get(part)
    return obj


def pod_spec(obj):
    path = POD_SPEC_PATHS.get(obj["kind"])
    return _dig(obj, path) if path else None


def check_labels(obj):
    labels = obj["metadata"].get("labels") or {}
    return ["%s: label %s missing" % (name(obj), label) for label in REQUIRED_LABELS if label not in labels]


def check_namespace(obj, level="restricted"):
    if obj["kind"] != "Namespace":
        return []
    labels = obj["metadata"].get("labels") or {}
    if labels.get("pod-security.kubernetes.io/enforce") != level:
        return ["%s: Pod Security is not enforced at %s" % (name(obj), level)]
    return []


def check_pod_security(obj, openshift=False):
    """Restricted Pod Security: non-root, no escalation, capabilities dropped, RuntimeDefault
    seccomp, resources set, pinned images; on OpenShift no fixed UIDs (the SCC assigns one)."""
    spec = pod_spec(obj)
    if spec is None:
        return []
    problems = []
    pod_sc = spec.get("securityContext") or {}
    if openshift and ("runAsUser" in pod_sc or "fsGroup" in pod_sc):
        problems.append("%s: fixed runAsUser/fsGroup on OpenShift" % name(obj))
    for container in (spec.get("initContainers") or []) + (spec.get("containers") or []):
        where = "%s container %s" % (name(obj), container.get("name"))
        sc = container.get("securityContext") or {}
        merged = dict(pod_sc, **sc)
        if merged.get("runAsNonRoot") is not True:
            problems.append("%s: runAsNonRoot is not true" % where)
        if sc.get("allowPrivilegeEscalation") is not False:
            problems.append("%s: allowPrivilegeEscalation is not false" % where)
        if "ALL" not in ((sc.get("capabilities") or {}).get("drop") or []):
            problems.append("%s: capabilities do not drop ALL" % where)
        if (merged.get("seccompProfile") or {}).get("type") not in ("RuntimeDefault", "Localhost"):
            problems.append("%s: no RuntimeDefault seccomp profile" % where)
        if openshift and "runAsUser" in sc:
            problems.append("%s: fixed runAsUser on OpenShift" % where)
        resources = container.get("resources") or {}
        for section in ("requests", "limits"):
            for resource in ("cpu", "memory"):
                if resource not in (resources.get(section) or {}):
                    problems.append("%s: resources.%s.%s not set" % (where, section, resource))
        image = container.get("image", "")
        if not PINNED.search(image) or image.endswith(":latest"):
            problems.append("%s: image %r is not pinned" % (where, image))
    return problems


def check_rbac(obj):
    if obj["kind"] not in ("Role", "ClusterRole"):
        return []
    problems = []
    for index, rule in enumerate(obj.get("rules") or []):
        for field in ("apiGroups", "resources", "verbs", "resourceNames"):
            if "*" in (rule.get(field) or []):
                problems.append("%s: rules[%d].%s has a wildcard" % (name(obj), index, field))
    return problems


def violations(objects, openshift=False):
    problems = []
    for obj in objects:
        problems += check_labels(obj) + check_namespace(obj) + check_pod_security(obj, openshift) + check_rbac(obj)
    return problems
