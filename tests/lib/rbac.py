"""Kubernetes RBAC evaluated as the API server does it, for tests of rendered or applied objects.

Given Roles, ClusterRoles, RoleBindings and ClusterRoleBindings, ``Authorizer.allowed`` answers
whether a ServiceAccount may do a verb on a resource (``pods``, ``pods/log``) of an API group in
a namespace, by the rules of Kubernetes' RBAC authorizer
(plugin/pkg/auth/authorizer/rbac/rbac.go and pkg/apis/rbac/v1/evaluation_helpers.go):

* a RoleBinding grants its Role (same namespace) or ClusterRole in its own namespace only; a
  ClusterRoleBinding grants its ClusterRole everywhere;
* a binding applies to a ServiceAccount subject of that name and namespace (the binding's
  namespace when the subject names none), to the groups ``system:serviceaccounts``,
  ``system:serviceaccounts:<namespace>`` and ``system:authenticated``, and to the user
  ``system:serviceaccount:<namespace>:<name>``;
* a rule matches when its verbs hold the verb or ``*``, its apiGroups the group or ``*``, its
  resources the resource, ``*`` or ``*/<subresource>``, and its resourceNames (if any) the name
  asked for; rules only add (RBAC has no deny).
"""

from __future__ import annotations

import json
import urllib.request
from dataclasses import dataclass

# Every verb the API server authorizes on resources (kube-apiserver's request info) and the
# RBAC-specific ones.
VERBS = ("get", "list", "watch", "create", "update", "patch", "delete", "deletecollection",
         "escalate", "bind", "impersonate", "use", "approve", "sign", "attest")


@dataclass(frozen=True)
class Request:
    verb: str
    group: str
    resource: str  # "pods" or "pods/log"
    namespace: str
    name: str | None = None


def _subject_applies(subject, sa_namespace, sa_name, binding_namespace):
    kind = subject.get("kind")
    if kind == "ServiceAccount":
        return (subject.get("name") == sa_name
                and (subject.get("namespace") or binding_namespace) == sa_namespace)
    if kind == "User":
        return subject.get("name") == "system:serviceaccount:%s:%s" % (sa_namespace, sa_name)
    if kind == "Group":
        return subject.get("name") in ("system:serviceaccounts", "system:serviceaccounts:" + sa_namespace,
                                       "system:authenticated")
    return False


def rule_allows(rule, request):
    """Whether one PolicyRule allows the request (evaluation_helpers.go RuleAllows)."""
    verbs, groups = rule.get("verbs") or [], rule.get("apiGroups") or []
    resources, names = rule.get("resources") or [], rule.get("resourceNames") or []
    if "*" not in verbs and request.verb not in verbs:
        return False
    if "*" not in groups and request.group not in groups:
        return False
    _, _, sub = request.resource.partition("/")
    if not ("*" in resources or request.resource in resources or (sub and "*/" + sub in resources)):
        return False
    return not names or (request.name is not None and request.name in names)


class Authorizer:
    def __init__(self, objects):
        self.roles, self.cluster_roles, self.bindings, self.cluster_bindings = {}, {}, [], []
        for obj in objects:
            kind, meta = obj.get("kind"), obj.get("metadata") or {}
            if kind == "Role":
                self.roles[(meta.get("namespace"), meta["name"])] = obj
            elif kind == "ClusterRole":
                self.cluster_roles[meta["name"]] = obj
            elif kind == "RoleBinding":
                self.bindings.append(obj)
            elif kind == "ClusterRoleBinding":
                self.cluster_bindings.append(obj)

    def _role_rules(self, ref, namespace):
        if ref.get("kind") == "ClusterRole":
            role = self.cluster_roles.get(ref.get("name"))
        else:
            role = self.roles.get((namespace, ref.get("name")))
        return (role or {}).get("rules") or []

    def rules_for(self, sa_namespace, sa_name, namespace):
        """The rules that apply to the ServiceAccount's requests in ``namespace``."""
        rules = []
        for binding in self.cluster_bindings:
            if any(_subject_applies(s, sa_namespace, sa_name, None) for s in binding.get("subjects") or []):
                rules += self._role_rules(binding.get("roleRef") or {}, None)
        for binding in self.bindings:
            where = binding["metadata"].get("namespace")
            if where != namespace:
                continue
            if any(_subject_applies(s, sa_namespace, sa_name, where) for s in binding.get("subjects") or []):
                rules += self._role_rules(binding.get("roleRef") or {}, where)
        return rules

    def allowed(self, sa_namespace, sa_name, request):
        return any(rule_allows(rule, request)
                   for rule in self.rules_for(sa_namespace, sa_name, request.namespace))

    def grants(self, sa_namespace, sa_name, universe, namespace):
        """``{(verb, group, resource)}`` of ``universe`` ((group, resource) pairs) that the account
        may do in ``namespace`` (on any object: no resource name)."""
        return {(verb, group, resource) for group, resource in universe for verb in VERBS
                if self.allowed(sa_namespace, sa_name, Request(verb, group, resource, namespace))}


def served_resources(url):
    """``{(group, resource)}`` the API server at ``url`` serves (discovery: core, named groups and
    the kinds its CRDs register), subresources included."""
    def get(path):
        with urllib.request.urlopen(url + path, timeout=10) as reply:
            return json.loads(reply.read())

    found = {("", r["name"]) for r in get("/api/v1")["resources"]}
    for group in get("/apis")["groups"]:
        for version in group["versions"]:
            for resource in get("/apis/" + version["groupVersion"]).get("resources", []):
                found.add((group["name"], resource["name"]))
    return found
