"""Defaulting and normalisation done by the real server on every write.

Mirrors (a useful subset of) the apiserver's defaulting functions and REST
strategies, so stored objects look like a real cluster's:

* Namespace: ``kubernetes.io/metadata.name`` label, ``spec.finalizers``;
* Secret: ``type: Opaque``; ``stringData`` merged into base64 ``data`` and
  dropped (the Secret REST strategy);
* Service: ``type``, ``sessionAffinity``, port ``protocol: TCP`` and
  ``targetPort``, ``clusterIP``/``clusterIPs`` allocated from 10.96.0.0/12
  (kept across updates that omit it; ``None`` stays headless);
* workloads: the scalar defaults of Deployment/StatefulSet/DaemonSet/Job/
  CronJob specs (replicas, strategies, history limits...), pod-template and
  container defaults (``restartPolicy``, ``dnsPolicy``, ``imagePullPolicy``,
  termination message settings, port protocol);
* PVC: ``volumeMode: Filesystem``.

Defaults only fill what is absent, so they are idempotent and a re-sent
manifest compares equal to the stored object.
"""

from __future__ import annotations

import base64
import ipaddress
import threading
from typing import Any


def _setdefaults(target: dict, values: dict[str, Any]) -> None:
    for key, value in values.items():
        if key not in target:
            target[key] = value


class ClusterIPAllocator:
    """Hands out service IPs from 10.96.0.0/12 (10.96.0.1 is the kubernetes service)."""

    def __init__(self) -> None:
        self._net = ipaddress.ip_network("10.96.0.0/12")
        self._next = 10
        self._lock = threading.Lock()

    def allocate(self) -> str:
        with self._lock:
            ip = str(self._net.network_address + self._next)
            self._next += 1
            return ip


def _pod_spec(spec: dict) -> None:
    _setdefaults(spec, {"restartPolicy": "Always", "terminationGracePeriodSeconds": 30,
                        "dnsPolicy": "ClusterFirst", "securityContext": {},
                        "schedulerName": "default-scheduler"})
    for field in ("initContainers", "containers"):
        for container in spec.get(field) or []:
            if not isinstance(container, dict):
                continue
            image = str(container.get("image", ""))
            tag = image.rsplit("/", 1)[-1]
            latest = "@" not in image and (":" not in tag or tag.endswith(":latest"))
            _setdefaults(container, {"imagePullPolicy": "Always" if latest else "IfNotPresent",
                                     "terminationMessagePath": "/dev/termination-log",
                                     "terminationMessagePolicy": "File", "resources": {}})
            for port in container.get("ports") or []:
                if isinstance(port, dict):
                    port.setdefault("protocol", "TCP")


def _template(spec: dict) -> None:
    template = spec.get("template")
    if isinstance(template, dict) and isinstance(template.get("spec"), dict):
        _pod_spec(template["spec"])


def _deployment(obj: dict, ctx: "DefaultingContext") -> None:
    spec = obj.setdefault("spec", {})
    _setdefaults(spec, {"replicas": 1, "revisionHistoryLimit": 10, "progressDeadlineSeconds": 600,
                        "strategy": {}})
    strategy = spec["strategy"]
    if isinstance(strategy, dict):  # SetDefaults_Deployment
        strategy.setdefault("type", "RollingUpdate")
        if strategy["type"] == "RollingUpdate":
            rolling = strategy.setdefault("rollingUpdate", {})
            if isinstance(rolling, dict):
                _setdefaults(rolling, {"maxUnavailable": "25%", "maxSurge": "25%"})
    _template(spec)


def _statefulset(obj: dict, ctx: "DefaultingContext") -> None:
    spec = obj.setdefault("spec", {})
    _setdefaults(spec, {"replicas": 1, "podManagementPolicy": "OrderedReady", "revisionHistoryLimit": 10,
                        "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}},
                        "persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Retain",
                                                                 "whenScaled": "Retain"}})
    _template(spec)


def _daemonset(obj: dict, ctx: "DefaultingContext") -> None:
    spec = obj.setdefault("spec", {})
    _setdefaults(spec, {"revisionHistoryLimit": 10,
                        "updateStrategy": {"type": "RollingUpdate",
                                           "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}}})
    _template(spec)


def _replicaset(obj: dict, ctx: "DefaultingContext") -> None:
    spec = obj.setdefault("spec", {})
    _setdefaults(spec, {"replicas": 1})
    _template(spec)


def _job(obj: dict, ctx: "DefaultingContext") -> None:
    spec = obj.setdefault("spec", {})
    _setdefaults(spec, {"parallelism": 1, "completions": 1, "backoffLimit": 6,
                        "completionMode": "NonIndexed", "suspend": False})
    _template(spec)


def _cronjob(obj: dict, ctx: "DefaultingContext") -> None:
    spec = obj.setdefault("spec", {})
    _setdefaults(spec, {"concurrencyPolicy": "Allow", "suspend": False, "successfulJobsHistoryLimit": 3,
                        "failedJobsHistoryLimit": 1})
    job_spec = (spec.get("jobTemplate") or {}).get("spec")
    if isinstance(job_spec, dict):
        _template(job_spec)


def _pod(obj: dict, ctx: "DefaultingContext") -> None:
    if isinstance(obj.get("spec"), dict):
        _pod_spec(obj["spec"])


def _namespace(obj: dict, ctx: "DefaultingContext") -> None:
    obj["metadata"].setdefault("labels", {})["kubernetes.io/metadata.name"] = obj["metadata"]["name"]
    obj.setdefault("spec", {}).setdefault("finalizers", ["kubernetes"])


def _secret(obj: dict, ctx: "DefaultingContext") -> None:
    obj.setdefault("type", "Opaque")
    string_data = obj.pop("stringData", None)
    if string_data:
        data = obj.setdefault("data", {}) or {}
        for key, value in string_data.items():
            data[key] = base64.b64encode(str(value).encode()).decode()
        obj["data"] = data


def _service(obj: dict, ctx: "DefaultingContext") -> None:
    spec = obj.setdefault("spec", {})
    _setdefaults(spec, {"type": "ClusterIP", "sessionAffinity": "None"})
    for port in spec.get("ports") or []:
        if isinstance(port, dict):
            port.setdefault("protocol", "TCP")
            if "port" in port:
                port.setdefault("targetPort", port["port"])
    if spec["type"] == "ExternalName":
        return
    old_spec = (ctx.old or {}).get("spec") or {}
    if "clusterIP" not in spec and old_spec.get("clusterIP"):
        spec["clusterIP"] = old_spec["clusterIP"]  # updates that omit it keep the allocation
    if not spec.get("clusterIP"):
        spec["clusterIP"] = ctx.allocate_ip()
    _setdefaults(spec, {"clusterIPs": [spec["clusterIP"]], "internalTrafficPolicy": "Cluster"})
    if spec["clusterIP"] != "None":
        _setdefaults(spec, {"ipFamilies": ["IPv4"], "ipFamilyPolicy": "SingleStack"})


def _pvc(obj: dict, ctx: "DefaultingContext") -> None:
    obj.setdefault("spec", {}).setdefault("volumeMode", "Filesystem")


DEFAULTERS = {
    ("apps", "Deployment"): _deployment,
    ("apps", "StatefulSet"): _statefulset,
    ("apps", "DaemonSet"): _daemonset,
    ("apps", "ReplicaSet"): _replicaset,
    ("batch", "Job"): _job,
    ("batch", "CronJob"): _cronjob,
    ("", "Pod"): _pod,
    ("", "Namespace"): _namespace,
    ("", "Secret"): _secret,
    ("", "Service"): _service,
    ("", "PersistentVolumeClaim"): _pvc,
}


class DefaultingContext:
    def __init__(self, old: dict | None, allocator: ClusterIPAllocator):
        self.old = old
        self._allocator = allocator

    def allocate_ip(self) -> str:
        return self._allocator.allocate()


def apply_defaults(group: str, kind: str, obj: dict, old: dict | None, allocator: ClusterIPAllocator) -> None:
    """Fill server-side defaults into ``obj`` in place."""
    defaulter = DEFAULTERS.get((group, kind))
    if defaulter is not None:
        defaulter(obj, DefaultingContext(old, allocator))
