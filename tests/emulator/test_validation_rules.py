"""The Go validation rules of the kinds this project deploys (``kube_emulator/rules.py``).

Every case is one rule: the object with the bad value is refused with ``422 Invalid``
naming the field in the real server's words; the same object with a good value
(usually the boundary) is accepted.  Objects start from a valid base per kind.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from typing import Any

import pytest

from support import deployment, statefulset

NS = "default"
QUANTITY_FORMAT = ("quantities must match the regular expression "
                   "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'")
PORT_RANGE = "must be between 1 and 65535, inclusive"
NONNEG = "must be greater than or equal to 0"

COLLECTION = {
    "Deployment": f"/apis/apps/v1/namespaces/{NS}/deployments",
    "StatefulSet": f"/apis/apps/v1/namespaces/{NS}/statefulsets",
    "Job": f"/apis/batch/v1/namespaces/{NS}/jobs",
    "CronJob": f"/apis/batch/v1/namespaces/{NS}/cronjobs",
    "Service": f"/api/v1/namespaces/{NS}/services",
    "PersistentVolumeClaim": f"/api/v1/namespaces/{NS}/persistentvolumeclaims",
    "ResourceQuota": f"/api/v1/namespaces/{NS}/resourcequotas",
    "LimitRange": f"/api/v1/namespaces/{NS}/limitranges",
    "Secret": f"/api/v1/namespaces/{NS}/secrets",
    "ConfigMap": f"/api/v1/namespaces/{NS}/configmaps",
    "NetworkPolicy": f"/apis/networking.k8s.io/v1/namespaces/{NS}/networkpolicies",
    "Ingress": f"/apis/networking.k8s.io/v1/namespaces/{NS}/ingresses",
    "PodDisruptionBudget": f"/apis/policy/v1/namespaces/{NS}/poddisruptionbudgets",
    "Role": f"/apis/rbac.authorization.k8s.io/v1/namespaces/{NS}/roles",
    "RoleBinding": f"/apis/rbac.authorization.k8s.io/v1/namespaces/{NS}/rolebindings",
}

_POD = {"restartPolicy": "Never", "containers": [{"name": "main", "image": "busybox:1.36"}]}


def _meta(name: str) -> dict:
    return {"name": name, "namespace": NS}


BASE: dict[str, dict] = {
    "Deployment": deployment(),
    "StatefulSet": statefulset(),
    "Job": {"apiVersion": "batch/v1", "kind": "Job", "metadata": _meta("job"),
            "spec": {"template": {"spec": copy.deepcopy(_POD)}}},
    "CronJob": {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": _meta("nightly"),
                "spec": {"schedule": "0 3 * * *",
                         "jobTemplate": {"spec": {"template": {"spec": copy.deepcopy(_POD)}}}}},
    "Service": {"apiVersion": "v1", "kind": "Service", "metadata": _meta("web"),
                "spec": {"selector": {"app": "web"}, "ports": [{"name": "http", "port": 80}]}},
    "PersistentVolumeClaim": {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": _meta("data"),
                              "spec": {"accessModes": ["ReadWriteOnce"],
                                       "resources": {"requests": {"storage": "1Gi"}}}},
    "ResourceQuota": {"apiVersion": "v1", "kind": "ResourceQuota", "metadata": _meta("quota"),
                      "spec": {"hard": {"requests.cpu": "2", "requests.memory": "4Gi", "pods": "10"}}},
    "LimitRange": {"apiVersion": "v1", "kind": "LimitRange", "metadata": _meta("limits"),
                   "spec": {"limits": [{"type": "Container", "default": {"cpu": "500m", "memory": "512Mi"},
                                        "defaultRequest": {"cpu": "100m", "memory": "256Mi"},
                                        "max": {"cpu": "2", "memory": "4Gi"}}]}},
    "Secret": {"apiVersion": "v1", "kind": "Secret", "metadata": _meta("pull"),
               "type": "kubernetes.io/dockerconfigjson",
               "stringData": {".dockerconfigjson": '{"auths": {}}'}},
    "ConfigMap": {"apiVersion": "v1", "kind": "ConfigMap", "metadata": _meta("cfg"), "data": {"a": "1"}},
    "NetworkPolicy": {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": _meta("np"),
                      "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"],
                               "ingress": [{"ports": [{"port": 80}], "from": [{"podSelector": {}}]}],
                               "egress": [{"ports": [{"port": 53, "protocol": "UDP"}],
                                           "to": [{"ipBlock": {"cidr": "10.0.0.0/8"}}]}]}},
    "Ingress": {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": _meta("web"),
                "spec": {"rules": [{"host": "airflow.example.com", "http": {"paths": [
                    {"path": "/", "pathType": "Prefix",
                     "backend": {"service": {"name": "web", "port": {"number": 80}}}}]}}]}},
    "PodDisruptionBudget": {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": _meta("pdb"),
                            "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "web"}}}},
    "Role": {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": _meta("reader"),
             "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]},
    "RoleBinding": {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": _meta("rb"),
                    "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "reader"},
                    "subjects": [{"kind": "ServiceAccount", "name": "airflow"}]},
}

CTR = "spec.template.spec.containers[0]"
INIT = "spec.template.spec.initContainers[0]"
CJ_CTR = "spec.jobTemplate.spec.template.spec.containers[0]"


DELETE = object()


def _set(obj: Any, path: str, value: Any) -> None:
    """Set ``a.b[0].c`` in ``obj``, creating maps on the way (``DELETE`` removes the field)."""
    *parents, last = re.findall(r"[^.\[\]]+", path)
    for token in parents:
        obj = obj[int(token)] if token.isdigit() else obj.setdefault(token, {})
    if last.isdigit():
        obj[int(last)] = value
    elif value is DELETE:
        obj.pop(last, None)
    else:
        obj[last] = value




@dataclass
class Rule:
    id: str
    kind: str
    changes: dict[str, Any]          # path -> value, applied to every variant
    path: str                        # the field under test
    bad: Any
    good: Any
    field: str                       # details.causes[].field of the refusal
    message: str                     # ... and (a part of) its message

    def body(self, value: Any) -> dict:
        obj = copy.deepcopy(BASE[self.kind])
        for path, change in [*self.changes.items(), (self.path, value)]:
            _set(obj, path, change if change is DELETE else copy.deepcopy(change))
        return obj


def _resources(requests: dict | None = None, limits: dict | None = None) -> dict:
    return {k: v for k, v in (("requests", requests), ("limits", limits)) if v is not None}


_VOLUMES = {"spec.template.spec.volumes": [{"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}}]}
_INIT = {"spec.template.spec.initContainers": [{"name": "init", "image": "busybox:1.36"}]}
_PROBE = {"httpGet": {"path": "/healthz", "port": 8080}}

RULES = [
    # -- quantity grammar, wherever a quantity appears
    Rule("limit-2GB", "Deployment", {}, f"{CTR}.resources", _resources(limits={"memory": "2GB"}),
         _resources(limits={"memory": "2G"}), f"{CTR}.resources.limits[memory]",
         f'Invalid value: "2GB": {QUANTITY_FORMAT}'),
    Rule("request-two", "Deployment", {}, f"{CTR}.resources", _resources(requests={"cpu": "two"}),
         _resources(requests={"cpu": "2"}), f"{CTR}.resources.requests[cpu]", QUANTITY_FORMAT),
    Rule("bad-suffix", "Deployment", {}, f"{CTR}.resources", _resources(requests={"cpu": "2K"}),
         _resources(requests={"cpu": "2k"}), f"{CTR}.resources.requests[cpu]", "unable to parse quantity's suffix"),
    Rule("exponent", "Deployment", {}, f"{CTR}.resources", _resources(requests={"memory": "1e3.5"}),
         _resources(requests={"memory": "1e3"}), f"{CTR}.resources.requests[memory]", QUANTITY_FORMAT),
    Rule("init-container-quantity", "Deployment", _INIT, f"{INIT}.resources", _resources(limits={"cpu": "1 core"}),
         _resources(limits={"cpu": "1"}), f"{INIT}.resources.limits[cpu]", QUANTITY_FORMAT),
    Rule("statefulset-quantity", "StatefulSet", {}, f"{CTR}.resources", _resources(requests={"memory": "512MB"}),
         _resources(requests={"memory": "512M"}), f"{CTR}.resources.requests[memory]", QUANTITY_FORMAT),
    Rule("claim-template-quantity", "StatefulSet", {}, "spec.volumeClaimTemplates",
         [{"metadata": {"name": "data"}, "spec": {"accessModes": ["ReadWriteOnce"],
                                                  "resources": {"requests": {"storage": "5 Gi"}}}}],
         [{"metadata": {"name": "data"}, "spec": {"accessModes": ["ReadWriteOnce"],
                                                  "resources": {"requests": {"storage": "5Gi"}}}}],
         "spec.volumeClaimTemplates[0].spec.resources.requests[storage]", QUANTITY_FORMAT),
    Rule("cronjob-quantity", "CronJob", {}, f"{CJ_CTR}.resources", _resources(limits={"memory": "lots"}),
         _resources(limits={"memory": "1Gi"}), f"{CJ_CTR}.resources.limits[memory]", QUANTITY_FORMAT),
    Rule("quota-quantity", "ResourceQuota", {}, "spec.hard", {"requests.memory": "4GB"},
         {"requests.memory": "4Gi"}, "spec.hard[requests.memory]", QUANTITY_FORMAT),
    Rule("limitrange-quantity", "LimitRange", {}, "spec.limits[0].max", {"cpu": "2", "memory": "4 GiB"},
         {"cpu": "2", "memory": "4Gi"}, "spec.limits[0].max[memory]", QUANTITY_FORMAT),
    Rule("pvc-quantity", "PersistentVolumeClaim", {}, "spec.resources.requests.storage", "10GB", "10Gi",
         "spec.resources.requests[storage]", QUANTITY_FORMAT),
    Rule("emptydir-quantity", "Deployment", _VOLUMES, "spec.template.spec.volumes[0].emptyDir.sizeLimit", "1GB",
         "1Gi", "spec.template.spec.volumes[0].emptyDir.sizeLimit", QUANTITY_FORMAT),
    # -- quantities that must not be negative
    Rule("negative-request", "Deployment", {}, f"{CTR}.resources", _resources(requests={"cpu": "-1"}),
         _resources(requests={"cpu": "0"}), f"{CTR}.resources.requests[cpu]", f'Invalid value: "-1": {NONNEG}'),
    Rule("negative-limit", "Deployment", {}, f"{CTR}.resources", _resources(limits={"memory": "-1Gi"}),
         _resources(limits={"memory": "1Gi"}), f"{CTR}.resources.limits[memory]", f'"-1Gi": {NONNEG}'),
    Rule("negative-job-limit", "Job", {}, f"{CTR}.resources", _resources(limits={"cpu": "-500m"}),
         _resources(limits={"cpu": "500m"}), f"{CTR}.resources.limits[cpu]", NONNEG),
    Rule("negative-quota", "ResourceQuota", {}, "spec.hard.pods", "-1", "0", "spec.hard[pods]", NONNEG),
    Rule("fractional-quota-count", "ResourceQuota", {}, "spec.hard.pods", "1.5", "2", "spec.hard[pods]",
         'Invalid value: "1500m": must be an integer'),
    Rule("quota-resource-name", "ResourceQuota", {}, "spec.hard", {"cpus": "2"}, {"cpu": "2"}, "spec.hard[cpus]",
         "must be a standard resource"),
    Rule("pvc-storage-positive", "PersistentVolumeClaim", {}, "spec.resources.requests.storage", "0", "1",
         "spec.resources[storage]", 'Invalid value: "0": must be greater than zero'),
    Rule("pvc-storage-negative", "PersistentVolumeClaim", {}, "spec.resources.requests.storage", "-1Gi", "1Gi",
         "spec.resources[storage]", "must be greater than zero"),
    Rule("pvc-storage-required", "PersistentVolumeClaim", {}, "spec.resources.requests", {}, {"storage": "1Gi"},
         "spec.resources[storage]", "Required value"),
    Rule("pvc-access-modes", "PersistentVolumeClaim", {}, "spec.accessModes", [], ["ReadWriteOnce"],
         "spec.accessModes", "Required value: at least 1 access mode is required"),
    Rule("emptydir-negative", "Deployment", _VOLUMES, "spec.template.spec.volumes[0].emptyDir.sizeLimit", "-1Mi",
         "0", "spec.template.spec.volumes[0].emptyDir.sizeLimit",
         "Forbidden: SizeLimit field must be a valid resource quantity"),
    Rule("container-resource-name", "Deployment", {}, f"{CTR}.resources", _resources(limits={"storage": "1Gi"}),
         _resources(limits={"ephemeral-storage": "1Gi"}), f"{CTR}.resources.limits[storage]",
         "must be a standard resource for containers"),
    # -- requests <= limits
    Rule("request-above-limit", "Deployment", {}, f"{CTR}.resources",
         _resources(requests={"cpu": "2"}, limits={"cpu": "1"}), _resources(requests={"cpu": "1"}, limits={"cpu": "1"}),
         f"{CTR}.resources.requests", 'Invalid value: "2": must be less than or equal to cpu limit of 1'),
    Rule("request-above-limit-canonical", "Deployment", {}, f"{CTR}.resources",
         _resources(requests={"cpu": "1500m", "memory": "1025Mi"}, limits={"cpu": "1000m", "memory": "1Gi"}),
         _resources(requests={"cpu": "1000m", "memory": "1024Mi"}, limits={"cpu": "1", "memory": "1Gi"}),
         f"{CTR}.resources.requests", 'Invalid value: "1500m": must be less than or equal to cpu limit of 1'),
    Rule("init-request-above-limit", "Deployment", _INIT, f"{INIT}.resources",
         _resources(requests={"memory": "2Gi"}, limits={"memory": "1Gi"}),
         _resources(requests={"memory": "512Mi"}, limits={"memory": "1Gi"}),
         f"{INIT}.resources.requests", 'Invalid value: "2Gi": must be less than or equal to memory limit of 1Gi'),
    Rule("job-request-above-limit", "Job", {}, f"{CTR}.resources",
         _resources(requests={"cpu": "600m"}, limits={"cpu": "500m"}),
         _resources(requests={"cpu": "500m"}, limits={"cpu": "500m"}),
         f"{CTR}.resources.requests", "must be less than or equal to cpu limit of 500m"),
    Rule("cronjob-request-above-limit", "CronJob", {}, f"{CJ_CTR}.resources",
         _resources(requests={"memory": "3Gi"}, limits={"memory": "2Gi"}),
         _resources(requests={"memory": "2Gi"}, limits={"memory": "2Gi"}),
         f"{CJ_CTR}.resources.requests", "must be less than or equal to memory limit of 2Gi"),
    Rule("extended-resource-equal", "Deployment", {}, f"{CTR}.resources",
         _resources(requests={"example.com/gpu": "1"}, limits={"example.com/gpu": "2"}),
         _resources(requests={"example.com/gpu": "2"}, limits={"example.com/gpu": "2"}),
         f"{CTR}.resources.requests", "must be equal to example.com/gpu limit of 2"),
    # -- LimitRange relations
    Rule("limitrange-default-above-max", "LimitRange", {}, "spec.limits[0].default", {"cpu": "500m", "memory": "8Gi"},
         {"cpu": "500m", "memory": "4Gi"}, "spec.limits[0].default[memory]",
         "default value 8Gi is greater than max value 4Gi"),
    Rule("limitrange-default-request-above-max", "LimitRange", {}, "spec.limits[0].defaultRequest",
         {"cpu": "3", "memory": "256Mi"}, {"cpu": "500m", "memory": "256Mi"}, "spec.limits[0].defaultRequest[cpu]",
         'Invalid value: "3": default request value 3 is greater than max value 2'),
    Rule("limitrange-default-request-above-default", "LimitRange", {}, "spec.limits[0].defaultRequest",
         {"cpu": "1", "memory": "256Mi"}, {"cpu": "0.5", "memory": "256Mi"}, "spec.limits[0].defaultRequest[cpu]",
         "default request value 1 is greater than default limit value 500m"),
    Rule("limitrange-min-above-max", "LimitRange", {}, "spec.limits[0].min", {"cpu": "4"}, {"cpu": "50m"},
         "spec.limits[0].min[cpu]", "min value 4 is greater than max value 2"),
    Rule("limitrange-pod-default", "LimitRange",
         {"spec.limits[0].type": "Pod", "spec.limits[0].defaultRequest": DELETE},
         "spec.limits[0].default", {"cpu": "500m"}, DELETE, "spec.limits[0].default",
         "Forbidden: may not be specified when `type` is 'Pod'"),
    # -- integer ranges
    Rule("deployment-replicas", "Deployment", {}, "spec.replicas", -1, 0, "spec.replicas",
         f"Invalid value: -1: {NONNEG}"),
    Rule("deployment-revision-history", "Deployment", {}, "spec.revisionHistoryLimit", -1, 0,
         "spec.revisionHistoryLimit", NONNEG),
    Rule("deployment-progress-deadline", "Deployment", {"spec.minReadySeconds": 10}, "spec.progressDeadlineSeconds",
         10, 11, "spec.progressDeadlineSeconds", "must be greater than minReadySeconds"),
    Rule("statefulset-replicas", "StatefulSet", {}, "spec.replicas", -1, 0, "spec.replicas", NONNEG),
    Rule("statefulset-partition", "StatefulSet", {}, "spec.updateStrategy",
         {"type": "RollingUpdate", "rollingUpdate": {"partition": -1}},
         {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}},
         "spec.updateStrategy.rollingUpdate.partition", NONNEG),
    Rule("job-parallelism", "Job", {}, "spec.parallelism", -1, 0, "spec.parallelism", NONNEG),
    Rule("job-completions", "Job", {}, "spec.completions", -1, 0, "spec.completions", NONNEG),
    Rule("job-backoff-limit", "Job", {}, "spec.backoffLimit", -1, 0, "spec.backoffLimit", NONNEG),
    # Job.spec.activeDeadlineSeconds is ValidateNonnegativeField on the real server (0 passes) ...
    Rule("job-active-deadline", "Job", {}, "spec.activeDeadlineSeconds", -1, 0, "spec.activeDeadlineSeconds", NONNEG),
    # ... while a pod's own activeDeadlineSeconds must be at least 1.
    Rule("pod-active-deadline", "Job", {}, "spec.template.spec.activeDeadlineSeconds", 0, 1,
         "spec.template.spec.activeDeadlineSeconds", "Invalid value: 0: must be between 1 and 2147483647, inclusive"),
    Rule("job-ttl", "Job", {}, "spec.ttlSecondsAfterFinished", -5, 0, "spec.ttlSecondsAfterFinished", NONNEG),
    Rule("cronjob-successful-history", "CronJob", {}, "spec.successfulJobsHistoryLimit", -1, 0,
         "spec.successfulJobsHistoryLimit", NONNEG),
    Rule("cronjob-failed-history", "CronJob", {}, "spec.failedJobsHistoryLimit", -1, 0,
         "spec.failedJobsHistoryLimit", NONNEG),
    Rule("cronjob-starting-deadline", "CronJob", {}, "spec.startingDeadlineSeconds", -1, 0,
         "spec.startingDeadlineSeconds", NONNEG),
    Rule("cronjob-job-backoff", "CronJob", {}, "spec.jobTemplate.spec.backoffLimit", -1, 0,
         "spec.jobTemplate.spec.backoffLimit", NONNEG),
    # -- ports
    Rule("container-port", "Deployment", {}, f"{CTR}.ports", [{"containerPort": 70000}], [{"containerPort": 65535}],
         f"{CTR}.ports[0].containerPort", f"Invalid value: 70000: {PORT_RANGE}"),
    Rule("container-port-zero", "Deployment", {}, f"{CTR}.ports", [{"containerPort": 0}], [{"containerPort": 1}],
         f"{CTR}.ports[0].containerPort", "Required value"),
    Rule("host-port", "Deployment", {}, f"{CTR}.ports", [{"containerPort": 80, "hostPort": 65536}],
         [{"containerPort": 80, "hostPort": 8080}], f"{CTR}.ports[0].hostPort", PORT_RANGE),
    Rule("container-port-name", "Deployment", {}, f"{CTR}.ports", [{"name": "http_api", "containerPort": 80}],
         [{"name": "http-api", "containerPort": 80}], f"{CTR}.ports[0].name",
         "must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)"),
    Rule("job-container-port", "Job", {}, f"{CTR}.ports", [{"containerPort": -1}], [{"containerPort": 8080}],
         f"{CTR}.ports[0].containerPort", PORT_RANGE),
    Rule("service-port", "Service", {}, "spec.ports[0].port", 65536, 65535, "spec.ports[0].port",
         f"Invalid value: 65536: {PORT_RANGE}"),
    Rule("service-port-zero", "Service", {}, "spec.ports[0].port", 0, 1, "spec.ports[0].port", PORT_RANGE),
    Rule("service-target-port", "Service", {}, "spec.ports[0].targetPort", 70000, 8080, "spec.ports[0].targetPort",
         PORT_RANGE),
    Rule("service-target-port-name", "Service", {}, "spec.ports[0].targetPort", "web_http", "web-http",
         "spec.ports[0].targetPort", "must contain only alpha-numeric characters"),
    Rule("service-node-port-clusterip", "Service", {}, "spec.ports[0].nodePort", 30080, DELETE,
         "spec.ports[0].nodePort", "Forbidden: may not be used when `type` is 'ClusterIP'"),
    Rule("service-node-port-range", "Service", {"spec.type": "NodePort"}, "spec.ports[0].nodePort", 70000, 30080,
         "spec.ports[0].nodePort", "provided port is not in the valid range. The range of valid ports is 30000-32767"),
    Rule("service-port-names", "Service", {}, "spec.ports",
         [{"name": "http", "port": 80}, {"port": 443}], [{"name": "http", "port": 80}, {"name": "https", "port": 443}],
         "spec.ports[1].name", "Required value"),
    Rule("service-duplicate-port", "Service", {}, "spec.ports",
         [{"name": "a", "port": 80}, {"name": "b", "port": 80}],
         [{"name": "a", "port": 80}, {"name": "b", "port": 80, "protocol": "UDP"}], "spec.ports[1]", "Duplicate value"),
    Rule("networkpolicy-ingress-port", "NetworkPolicy", {}, "spec.ingress[0].ports[0].port", 70000, 8080,
         "spec.ingress[0].ports[0].port", PORT_RANGE),
    Rule("networkpolicy-egress-port", "NetworkPolicy", {}, "spec.egress[0].ports[0].port", 0, 53,
         "spec.egress[0].ports[0].port", PORT_RANGE),
    Rule("networkpolicy-end-port", "NetworkPolicy", {}, "spec.ingress[0].ports[0].endPort", 79, 90,
         "spec.ingress[0].ports[0].endPort", "must be greater than or equal to `port`"),
    Rule("networkpolicy-named-port", "NetworkPolicy", {}, "spec.ingress[0].ports[0].port", "HTTP", "http",
         "spec.ingress[0].ports[0].port", "must contain only alpha-numeric characters"),
    Rule("networkpolicy-cidr", "NetworkPolicy", {}, "spec.egress[0].to[0].ipBlock.cidr", "10.0.0.0/33",
         "10.0.0.0/16", "spec.egress[0].to[0].ipBlock.cidr", "must be a valid CIDR value"),
    Rule("networkpolicy-peer", "NetworkPolicy", {}, "spec.ingress[0].from", [{}], [{"namespaceSelector": {}}],
         "spec.ingress[0].from[0]", "Required value: must specify a peer"),
    Rule("networkpolicy-policy-type", "NetworkPolicy", {}, "spec.policyTypes", ["Ingress", "Outbound"],
         ["Ingress", "Egress"], "spec.policyTypes[1]", 'Unsupported value: "Outbound"'),
    Rule("ingress-backend-port", "Ingress", {}, "spec.rules[0].http.paths[0].backend.service.port.number",
         70000, 443, "spec.rules[0].http.paths[0].backend.service.port.number", PORT_RANGE),
    Rule("probe-port", "Deployment", {}, f"{CTR}.livenessProbe", {"httpGet": {"path": "/", "port": 0}}, _PROBE,
         f"{CTR}.livenessProbe.httpGet.port", PORT_RANGE),
    Rule("probe-named-port", "Deployment", {}, f"{CTR}.readinessProbe", {"tcpSocket": {"port": "-http"}},
         {"tcpSocket": {"port": "http"}}, f"{CTR}.readinessProbe.tcpSocket.port",
         "must not begin or end with a hyphen"),
    # -- selectors and templates
    Rule("deployment-template-labels", "Deployment", {}, "spec.template.metadata.labels", {"app": "other"},
         {"app": "web", "tier": "front"}, "spec.template.metadata.labels",
         'Invalid value: map[string]string{"app":"other"}: `selector` does not match template `labels`'),
    Rule("deployment-empty-selector", "Deployment", {}, "spec.selector", {"matchLabels": {}},
         {"matchLabels": {"app": "web"}}, "spec.selector", "empty selector is invalid for deployment"),
    Rule("deployment-selector-operator", "Deployment", {}, "spec.selector",
         {"matchExpressions": [{"key": "app", "operator": "In"}]},
         {"matchExpressions": [{"key": "app", "operator": "In", "values": ["web"]}]},
         "spec.selector.matchExpressions[0].values", "must be specified when `operator` is 'In' or 'NotIn'"),
    Rule("statefulset-template-labels", "StatefulSet", {}, "spec.template.metadata.labels", {"app": "x"},
         {"app": "db"}, "spec.template.metadata.labels", "`selector` does not match template `labels`"),
    Rule("template-label-value", "StatefulSet", {}, "spec.template.metadata.labels",
         {"app": "db", "v": "-bad"}, {"app": "db", "v": "good"}, "spec.template.labels", "a valid label must be"),
    Rule("deployment-surge", "Deployment", {}, "spec.strategy",
         {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": "0%"}},
         {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
         "spec.strategy.rollingUpdate.maxUnavailable", "may not be 0 when `maxSurge` is 0"),
    Rule("deployment-max-unavailable", "Deployment", {}, "spec.strategy",
         {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "120%"}},
         {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "100%"}},
         "spec.strategy.rollingUpdate.maxUnavailable", "must not be greater than 100%"),
    Rule("deployment-recreate", "Deployment", {}, "spec.strategy",
         {"type": "Recreate", "rollingUpdate": {"maxSurge": 1}}, {"type": "Recreate"},
         "spec.strategy.rollingUpdate", "may not be specified when strategy `type` is 'Recreate'"),
    Rule("cronjob-selector", "CronJob", {}, "spec.jobTemplate.spec.selector", {"matchLabels": {"a": "b"}}, DELETE,
         "spec.jobTemplate.spec.selector", "`selector` will be auto-generated"),
    # -- pod specs
    Rule("volume-mount-needs-volume", "Deployment", _VOLUMES, f"{CTR}.volumeMounts",
         [{"name": "cache", "mountPath": "/cache"}], [{"name": "tmp", "mountPath": "/cache"}],
         f"{CTR}.volumeMounts[0].name", 'Not found: "cache"'),
    Rule("mount-path-unique", "Deployment", _VOLUMES, f"{CTR}.volumeMounts",
         [{"name": "tmp", "mountPath": "/t"}, {"name": "tmp", "mountPath": "/t"}],
         [{"name": "tmp", "mountPath": "/t"}, {"name": "tmp", "mountPath": "/u"}],
         f"{CTR}.volumeMounts[1].mountPath", "must be unique"),
    Rule("container-name", "Deployment", {}, f"{CTR}.name", "Main", "main", f"{CTR}.name",
         "a lowercase RFC 1123 label must consist of"),
    Rule("container-image", "Job", {}, f"{CTR}.image", "", "busybox:1.36", f"{CTR}.image", "Required value"),
    Rule("duplicate-container", "Deployment", _INIT, f"{INIT}.name", "app", "init",
         f"{INIT}.name", 'Duplicate value: "app"'),
    Rule("liveness-success-threshold", "Deployment", {}, f"{CTR}.livenessProbe", {**_PROBE, "successThreshold": 2},
         {**_PROBE, "successThreshold": 1}, f"{CTR}.livenessProbe.successThreshold", "Invalid value: 2: must be 1"),
    Rule("probe-handler", "Deployment", {}, f"{CTR}.startupProbe", {"periodSeconds": 5},
         {"periodSeconds": 5, "exec": {"command": ["true"]}}, f"{CTR}.startupProbe",
         "Required value: must specify a handler type"),
    Rule("probe-negative", "Deployment", {}, f"{CTR}.readinessProbe", {**_PROBE, "periodSeconds": -1},
         {**_PROBE, "periodSeconds": 1}, f"{CTR}.readinessProbe.periodSeconds", NONNEG),
    Rule("init-container-probe", "Deployment", {**_INIT, f"{INIT}.livenessProbe": _PROBE}, f"{INIT}.restartPolicy",
         DELETE, "Always",
         f"{INIT}.livenessProbe", "may not be set for init containers without restartPolicy=Always"),
    # -- CronJob schedule and time zone
    Rule("cron-minute", "CronJob", {}, "spec.schedule", "61 * * * *", "59 * * * *", "spec.schedule",
         'Invalid value: "61 * * * *": end of range (61) above maximum (59): 61'),
    Rule("cron-fields", "CronJob", {}, "spec.schedule", "0 3 * *", "@daily", "spec.schedule",
         "expected exactly 5 fields, found 4: [0 3 * *]"),
    Rule("cron-sunday-is-0", "CronJob", {}, "spec.schedule", "0 0 * * 7", "0 0 * * sun", "spec.schedule",
         "end of range (7) above maximum (6): 7"),
    Rule("cron-tz", "CronJob", {}, "spec.schedule", "TZ=UTC 0 3 * * *", "0 3 * * *", "spec.schedule",
         "cannot use TZ or CRON_TZ in schedule, use timeZone field instead"),
    Rule("cron-time-zone", "CronJob", {}, "spec.timeZone", "Europe/Nowhere", "Europe/Paris", "spec.timeZone",
         "unknown time zone Europe/Nowhere"),
    Rule("cronjob-name-length", "CronJob", {}, "metadata.name", "n" * 53, "n" * 52, "metadata.name",
         "must be no more than 52 characters"),
    # -- Ingress, PodDisruptionBudget
    Rule("ingress-path", "Ingress", {}, "spec.rules[0].http.paths[0].path", "api", "/api",
         "spec.rules[0].http.paths[0].path", 'Invalid value: "api": must be an absolute path'),
    Rule("ingress-path-type", "Ingress", {}, "spec.rules[0].http.paths[0].pathType", DELETE, "Exact",
         "spec.rules[0].http.paths[0].pathType", "Required value: pathType must be specified"),
    Rule("ingress-host", "Ingress", {}, "spec.rules[0].host", "10.0.0.1", "*.example.com", "spec.rules[0].host",
         "must be a DNS name, not an IP address"),
    Rule("pdb-both", "PodDisruptionBudget", {}, "spec.maxUnavailable", 1, DELETE, "spec",
         "minAvailable and maxUnavailable cannot be both set"),
    Rule("pdb-percent", "PodDisruptionBudget", {}, "spec.minAvailable", "150%", "50%", "spec.minAvailable",
         "must not be greater than 100%"),
    Rule("pdb-negative", "PodDisruptionBudget", {}, "spec.minAvailable", -1, 0, "spec.minAvailable", NONNEG),
    # -- Secrets, ConfigMaps, RBAC
    Rule("dockerconfigjson-key", "Secret", {}, "stringData", {"config.json": "{}"}, {".dockerconfigjson": "{}"},
         "data[.dockerconfigjson]", "Required value"),
    Rule("dockerconfigjson-json", "Secret", {}, "stringData", {".dockerconfigjson": "{auths"},
         {".dockerconfigjson": '{"auths": {"r.example.com": {}}}'}, "data[.dockerconfigjson]",
         'Invalid value: "<secret contents redacted>"'),
    Rule("configmap-binary-duplicate", "ConfigMap", {}, "binaryData", {"a": "AAA="}, {"b": "AAA="}, "data[a]",
         "duplicate of key present in binaryData"),
    Rule("role-verbs", "Role", {}, "rules[0].verbs", [], ["get", "list"], "rules[0].verbs",
         "Required value: verbs must contain at least one value"),
    Rule("role-api-groups", "Role", {}, "rules[0].apiGroups", [], [""], "rules[0].apiGroups",
         "resource rules must supply at least one api group"),
    Rule("rolebinding-role-kind", "RoleBinding", {}, "roleRef.kind", "Roles", "ClusterRole", "roleRef.kind",
         'Unsupported value: "Roles": supported values: "Role", "ClusterRole"'),
    Rule("rolebinding-subject-kind", "RoleBinding", {}, "subjects[0].kind", "Serviceaccount", "ServiceAccount",
         "subjects[0].kind", "Unsupported value"),
]


def _create(http, obj: dict, **query: str):
    return http.post(COLLECTION[obj["kind"]], obj, query=query or None)


def _causes(reply) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for c in reply.body["details"]["causes"]:
        out.setdefault(c["field"], []).append(c["message"])
    return out


@pytest.mark.parametrize("kind", sorted(BASE))
def test_the_base_objects_are_valid(http, kind):
    reply = _create(http, copy.deepcopy(BASE[kind]))
    assert reply.status == 201, reply.body


@pytest.mark.parametrize("rule", RULES, ids=[r.id for r in RULES])
def test_bad_value_is_refused_naming_the_field(http, rule):
    reply = _create(http, rule.body(rule.bad))
    assert reply.status == 422, reply.body
    assert reply.body["reason"] == "Invalid" and reply.body["kind"] == "Status"
    causes = _causes(reply)
    assert rule.field in causes, causes
    if rule.message:
        assert any(rule.message in m for m in causes[rule.field]), causes[rule.field]
        assert f"{rule.field}: " in reply.body["message"]
    assert reply.body["details"]["kind"] == rule.kind


@pytest.mark.parametrize("rule", RULES, ids=[r.id for r in RULES])
def test_good_value_is_accepted(http, rule):
    reply = _create(http, rule.body(rule.good))
    assert reply.status == 201, reply.body


def test_a_refusal_lists_every_problem_like_the_real_server(http):
    body = deployment(replicas=-1)
    body["spec"]["template"]["spec"]["containers"][0]["resources"] = {"requests": {"cpu": "2"},
                                                                      "limits": {"cpu": "1", "memory": "1GB"}}
    reply = _create(http, body)
    assert reply.status == 422
    assert reply.body["message"].startswith('Deployment.apps "web" is invalid: [')
    assert set(_causes(reply)) == {"spec.replicas", f"{CTR}.resources.requests", f"{CTR}.resources.limits[memory]"}


def test_dry_run_is_validated_but_not_stored(http):
    bad = deployment(replicas=-1)
    assert _create(http, bad, dryRun="All").status == 422
    good = deployment()
    assert _create(http, good, dryRun="All").status == 201
    assert http.get(f"{COLLECTION['Deployment']}/web").status == 404


def test_updates_are_validated_too(http):
    assert _create(http, deployment()).status == 201
    path = f"{COLLECTION['Deployment']}/web"
    patch = {"spec": {"template": {"spec": {"containers": [
        {"name": "app", "resources": {"requests": {"memory": "2Gi"}, "limits": {"memory": "1Gi"}}}]}}}}
    reply = http.patch(path, patch, "application/strategic-merge-patch+json")
    assert reply.status == 422
    assert f"{CTR}.resources.requests" in _causes(reply)
    reply = http.patch(path, {"spec": {"replicas": -3}}, "application/merge-patch+json", query={"dryRun": "All"})
    assert reply.status == 422 and "spec.replicas" in _causes(reply)


def test_limit_range_values_may_be_negative_as_on_a_real_server(http):
    """``ValidateLimitRange`` checks names and relations, not signs (unlike quotas and pods)."""
    body = copy.deepcopy(BASE["LimitRange"])
    body["spec"]["limits"] = [{"type": "Container", "min": {"cpu": "-1"}}]
    assert _create(http, body).status == 201


# --------------------------------------------------------------- StatefulSet pods


def test_statefulset_with_an_invalid_pod_template_is_accepted_but_never_runs(http):
    """The real server validates a StatefulSet's template labels only; its controller then
    fails to create every Pod.  The emulated status says so: no replicas."""
    body = statefulset(replicas=2)
    body["spec"]["template"]["spec"]["containers"][0]["resources"] = {"requests": {"cpu": "2"},
                                                                      "limits": {"cpu": "1"}}
    reply = _create(http, body)
    assert reply.status == 201
    status = reply.body["status"]
    assert status["replicas"] == 0 and status["availableReplicas"] == 0 and "readyReplicas" not in status


def test_statefulset_with_a_valid_pod_template_rolls_out(http):
    reply = _create(http, statefulset(replicas=2))
    assert reply.status == 201
    assert reply.body["status"]["readyReplicas"] == 2
