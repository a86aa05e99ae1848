"""The resource table and the registry of served resource types.

:data:`BUILTIN_RESOURCES` is the one place that lists the built-in resources
the emulator serves (what a kube-apiserver with the default API groups
enabled answers in discovery).  :class:`Registry` holds those plus the types
registered by ``CustomResourceDefinition`` objects, and is what discovery,
routing and validation consult.  Like the real server, a CRD's resources are
served only while the CRD exists, only for versions with ``served: true``.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from typing import Any, Iterable

STANDARD_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")
CLUSTER_VERBS = STANDARD_VERBS

#: Subresource -> (group, version, kind, verbs) of what it serves.  ``None``
#: for group/version/kind means "the parent's".
SUBRESOURCES: dict[str, tuple[str | None, str | None, str | None, tuple[str, ...]]] = {
    "status": (None, None, None, ("get", "patch", "update")),
    "scale": ("autoscaling", "v1", "Scale", ("get", "patch", "update")),
    "finalize": (None, None, None, ("update",)),
    "log": ("", "v1", "Pod", ("get",)),
    "exec": ("", "v1", "PodExecOptions", ("create", "get")),
}


@dataclass(frozen=True)
class ResourceType:
    """One served resource (``apps/v1 deployments``) and its discovery facts."""

    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    subresources: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    verbs: tuple[str, ...] = STANDARD_VERBS
    singular: str = ""
    crd_name: str | None = None  # set for custom resources
    openapi_schema: dict | None = field(default=None, compare=False, hash=False, repr=False)

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def singular_name(self) -> str:
        return self.singular or self.kind.lower()

    @property
    def has_status(self) -> bool:
        return "status" in self.subresources

    @property
    def is_custom(self) -> bool:
        return self.crd_name is not None

    @property
    def store_key(self) -> tuple[str, str]:
        """Objects are stored per group+resource, shared by all its versions."""
        return (self.group, self.plural)

    def qualified(self) -> str:
        """``deployments.apps`` / ``configmaps`` as used in error messages."""
        return f"{self.plural}.{self.group}" if self.group else self.plural


def _r(api_version: str, plural: str, kind: str, scope: str, short: str = "",
       sub: str = "", cat: str = "") -> ResourceType:
    group, _, version = api_version.rpartition("/")
    split = lambda s: tuple(x for x in s.split(",") if x)  # noqa: E731
    return ResourceType(group=group, version=version, plural=plural, kind=kind,
                        namespaced=(scope == "Namespaced"), short_names=split(short),
                        subresources=split(sub), categories=split(cat))


N, C = "Namespaced", "Cluster"

#: Built-in resources, in the order discovery lists groups and resources.
BUILTIN_RESOURCES: tuple[ResourceType, ...] = (
    _r("v1", "namespaces", "Namespace", C, "ns", "status,finalize"),
    _r("v1", "configmaps", "ConfigMap", N, "cm"),
    _r("v1", "secrets", "Secret", N),
    _r("v1", "serviceaccounts", "ServiceAccount", N, "sa"),
    _r("v1", "services", "Service", N, "svc", "status", "all"),
    _r("v1", "endpoints", "Endpoints", N, "ep"),
    _r("v1", "persistentvolumeclaims", "PersistentVolumeClaim", N, "pvc", "status"),
    _r("v1", "persistentvolumes", "PersistentVolume", C, "pv", "status"),
    _r("v1", "pods", "Pod", N, "po", "status,log,exec", "all"),
    _r("v1", "resourcequotas", "ResourceQuota", N, "quota", "status"),
    _r("v1", "limitranges", "LimitRange", N, "limits"),
    _r("v1", "events", "Event", N, "ev"),
    _r("apps/v1", "deployments", "Deployment", N, "deploy", "status,scale", "all"),
    _r("apps/v1", "statefulsets", "StatefulSet", N, "sts", "status,scale", "all"),
    _r("apps/v1", "daemonsets", "DaemonSet", N, "ds", "status", "all"),
    _r("apps/v1", "replicasets", "ReplicaSet", N, "rs", "status,scale", "all"),
    _r("apps/v1", "controllerrevisions", "ControllerRevision", N),
    _r("batch/v1", "jobs", "Job", N, "", "status", "all"),
    _r("batch/v1", "cronjobs", "CronJob", N, "cj", "status", "all"),
    _r("networking.k8s.io/v1", "networkpolicies", "NetworkPolicy", N, "netpol"),
    _r("networking.k8s.io/v1", "ingresses", "Ingress", N, "ing", "status"),
    _r("networking.k8s.io/v1", "ingressclasses", "IngressClass", C),
    _r("rbac.authorization.k8s.io/v1", "roles", "Role", N),
    _r("rbac.authorization.k8s.io/v1", "rolebindings", "RoleBinding", N),
    _r("rbac.authorization.k8s.io/v1", "clusterroles", "ClusterRole", C),
    _r("rbac.authorization.k8s.io/v1", "clusterrolebindings", "ClusterRoleBinding", C),
    _r("policy/v1", "poddisruptionbudgets", "PodDisruptionBudget", N, "pdb", "status"),
    _r("apiextensions.k8s.io/v1", "customresourcedefinitions", "CustomResourceDefinition", C,
       "crd,crds", "status"),
    _r("storage.k8s.io/v1", "storageclasses", "StorageClass", C, "sc"),
    _r("autoscaling/v2", "horizontalpodautoscalers", "HorizontalPodAutoscaler", N, "hpa",
       "status", "all"),
    _r("coordination.k8s.io/v1", "leases", "Lease", N),
)


def crd_resource_types(crd: dict[str, Any]) -> list[ResourceType]:
    """Resource types a ``CustomResourceDefinition`` serves (served versions only)."""
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    out = []
    for version in spec.get("versions") or []:
        if not version.get("served"):
            continue
        subresources = tuple(k for k in ("status", "scale") if k in (version.get("subresources") or {}))
        out.append(ResourceType(
            group=spec["group"], version=version["name"], plural=names["plural"],
            kind=names["kind"], namespaced=spec.get("scope", "Namespaced") == "Namespaced",
            short_names=tuple(names.get("shortNames") or ()), subresources=subresources,
            categories=tuple(names.get("categories") or ()), singular=names.get("singular", ""),
            crd_name=crd["metadata"]["name"],
            openapi_schema=(version.get("schema") or {}).get("openAPIV3Schema"),
        ))
    return out


def storage_version(crd: dict[str, Any]) -> str | None:
    for version in (crd.get("spec") or {}).get("versions") or []:
        if version.get("storage"):
            return version["name"]
    return None


class Registry:
    """Thread-safe set of served :class:`ResourceType` s."""

    def __init__(self, builtin: Iterable[ResourceType] = BUILTIN_RESOURCES):
        self._lock = threading.Lock()
        self._types: dict[tuple[str, str, str], ResourceType] = {}
        self._builtin_groups: list[str] = []
        for rtype in builtin:
            self._add(rtype)
            if rtype.group not in self._builtin_groups:
                self._builtin_groups.append(rtype.group)
        self.generation = 0  # bumped on every change; discovery caches key on it

    def _add(self, rtype: ResourceType) -> None:
        self._types[(rtype.group, rtype.version, rtype.plural)] = rtype

    def lookup(self, group: str, version: str, plural: str) -> ResourceType | None:
        with self._lock:
            return self._types.get((group, version, plural))

    def by_kind(self, api_version: str, kind: str) -> ResourceType | None:
        group, _, version = api_version.rpartition("/")
        with self._lock:
            for rtype in self._types.values():
                if rtype.group == group and rtype.version == version and rtype.kind == kind:
                    return rtype
        return None

    def all(self) -> list[ResourceType]:
        with self._lock:
            return list(self._types.values())

    def groups(self) -> list[tuple[str, list[str]]]:
        """``[(group, [versions, preferred first])]`` with built-in groups first."""
        with self._lock:
            versions: dict[str, list[str]] = {}
            for rtype in self._types.values():
                vs = versions.setdefault(rtype.group, [])
                if rtype.version not in vs:
                    vs.append(rtype.version)
        order = [g for g in self._builtin_groups if g in versions]
        order += sorted(g for g in versions if g not in self._builtin_groups)
        return [(g, sorted(versions[g], key=_version_priority)) for g in order]

    def resources(self, group: str, version: str) -> list[ResourceType]:
        with self._lock:
            return [t for t in self._types.values() if t.group == group and t.version == version]

    def register_crd(self, crd: dict[str, Any]) -> list[ResourceType]:
        """(Re-)register a CRD's served versions; returns the new types."""
        name = crd["metadata"]["name"]
        new = crd_resource_types(crd)
        with self._lock:
            self._remove_crd_locked(name)
            for rtype in new:
                self._add(rtype)
            self.generation += 1
        return new

    def unregister_crd(self, name: str) -> None:
        with self._lock:
            self._remove_crd_locked(name)
            self.generation += 1

    def _remove_crd_locked(self, name: str) -> None:
        for key in [k for k, t in self._types.items() if t.crd_name == name]:
            del self._types[key]


def _version_priority(version: str) -> tuple[int, int, int]:
    """Kubernetes version priority: GA > beta > alpha, then higher numbers first."""
    m = re.fullmatch(r"v(\d+)(?:(alpha|beta)(\d+))?", version)
    if not m:
        return (3, 0, 0)
    major, stage, minor = int(m.group(1)), m.group(2), int(m.group(3) or 0)
    rank = {None: 0, "beta": 1, "alpha": 2}[stage]
    return (rank, -major, -minor)
