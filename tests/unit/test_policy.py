"""The policy checks themselves can fail (tests/lib/policy.py), so a clean render means something."""

from lib import policy

LABELS = {label: "x" for label in policy.REQUIRED_LABELS}


def deployment(container, pod_sc=None):
    return {"kind": "Deployment", "metadata": {"name": "d", "namespace": "n", "labels": LABELS},
            "spec": {"template": {"spec": {"securityContext": pod_sc or {}, "containers": [container]}}}}


GOOD = {
    "name": "c", "image": "registry.example.com/a:1.0",
    "securityContext": {"runAsNonRoot": True, "allowPrivilegeEscalation": False,
                        "capabilities": {"drop": ["ALL"]}, "seccompProfile": {"type": "RuntimeDefault"}},
    "resources": {"requests": {"cpu": "1", "memory": "1Gi"}, "limits": {"cpu": "1", "memory": "1Gi"}},
}


def test_a_restricted_pinned_container_passes():
    assert policy.violations([deployment(GOOD)]) == []


def test_root_latest_and_no_limits_are_each_reported():
    bad = dict(GOOD, image="registry.example.com/a:latest", securityContext={}, resources={})
    problems = "\n".join(policy.violations([deployment(bad)]))
    for text in ("runAsNonRoot", "allowPrivilegeEscalation", "drop ALL", "seccomp", "limits.memory", "not pinned"):
        assert text in problems


def test_fixed_uid_is_refused_on_openshift_only():
    obj = deployment(GOOD, pod_sc={"runAsUser": 50000, "fsGroup": 50000})
    assert policy.violations([obj]) == []
    assert policy.violations([obj], openshift=True)


def test_rbac_wildcards_are_refused():
    role = {"kind": "Role", "metadata": {"name": "r", "namespace": "n", "labels": LABELS},
            "rules": [{"apiGroups": [""], "resources": ["*"], "verbs": ["get"]}]}
    assert policy.violations([role]) == ["Role n/r: rules[0].resources has a wildcard"]


def test_namespace_without_restricted_pod_security_is_refused():
    ns = {"kind": "Namespace", "metadata": {"name": "n", "labels": LABELS}}
    assert policy.violations([ns]) == ["Namespace -/n: Pod Security is not enforced at restricted"]


def test_missing_platform_labels_are_refused():
    cm = {"kind": "ConfigMap", "metadata": {"name": "c", "namespace": "n", "labels": {}}}
    assert len(policy.violations([cm])) == len(policy.REQUIRED_LABELS)
