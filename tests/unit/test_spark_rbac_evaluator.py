"""The RBAC evaluator the Spark RBAC tests rely on (tests/lib/rbac.py): Kubernetes' matching rules."""

from lib.rbac import Authorizer, Request, rule_allows


def req(verb="get", group="", resource="pods", namespace="ns", name=None):
    return Request(verb, group, resource, namespace, name)


def test_a_rule_matches_verb_group_and_resource():
    rule = {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}
    assert rule_allows(rule, req()) and rule_allows(rule, req("list"))
    assert not rule_allows(rule, req("delete"))
    assert not rule_allows(rule, req(group="apps"))
    assert not rule_allows(rule, req(resource="pods/log")), "a subresource is a resource of its own"


def test_wildcards_match_everything_of_their_field():
    assert rule_allows({"apiGroups": ["*"], "resources": ["pods"], "verbs": ["get"]}, req(group="made.up"))
    assert rule_allows({"apiGroups": [""], "resources": ["*"], "verbs": ["get"]}, req(resource="pods/exec"))
    assert rule_allows({"apiGroups": [""], "resources": ["pods"], "verbs": ["*"]}, req("escalate"))
    assert rule_allows({"apiGroups": [""], "resources": ["*/log"], "verbs": ["get"]}, req(resource="pods/log"))
    assert not rule_allows({"apiGroups": [""], "resources": ["*/log"], "verbs": ["get"]}, req())


def test_resource_names_restrict_to_named_requests():
    rule = {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list"], "resourceNames": ["a"]}
    assert rule_allows(rule, req(resource="configmaps", name="a"))
    assert not rule_allows(rule, req(resource="configmaps", name="b"))
    assert not rule_allows(rule, req("list", resource="configmaps")), "a list names no object"


def objects(subject, role_ref=None, binding_ns="ns"):
    return [
        {"kind": "Role", "metadata": {"name": "r", "namespace": "ns"},
         "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]},
        {"kind": "ClusterRole", "metadata": {"name": "c"},
         "rules": [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}]},
        {"kind": "RoleBinding", "metadata": {"name": "b", "namespace": binding_ns},
         "roleRef": role_ref or {"kind": "Role", "name": "r"}, "subjects": [subject]},
    ]


def test_bindings_apply_to_the_account_its_user_name_and_its_groups():
    for subject in ({"kind": "ServiceAccount", "name": "sa", "namespace": "ns"},
                    {"kind": "ServiceAccount", "name": "sa"},  # the binding's namespace
                    {"kind": "User", "name": "system:serviceaccount:ns:sa"},
                    {"kind": "Group", "name": "system:serviceaccounts:ns"},
                    {"kind": "Group", "name": "system:serviceaccounts"},
                    {"kind": "Group", "name": "system:authenticated"}):
        assert Authorizer(objects(subject)).allowed("ns", "sa", req()), subject
    for subject in ({"kind": "ServiceAccount", "name": "other", "namespace": "ns"},
                    {"kind": "ServiceAccount", "name": "sa", "namespace": "elsewhere"},
                    {"kind": "Group", "name": "system:serviceaccounts:elsewhere"}):
        assert not Authorizer(objects(subject)).allowed("ns", "sa", req()), subject


def test_a_role_binding_grants_in_its_own_namespace_only_even_a_cluster_role():
    subject = {"kind": "ServiceAccount", "name": "sa", "namespace": "ns"}
    auth = Authorizer(objects(subject, {"kind": "ClusterRole", "name": "c"}))
    assert auth.allowed("ns", "sa", req(resource="secrets"))
    assert not auth.allowed("ns", "sa", req(resource="secrets", namespace="other"))
    assert not auth.allowed("ns", "sa", req()), "the Role r is not bound"


def test_a_cluster_role_binding_grants_everywhere():
    auth = Authorizer(objects({"kind": "ServiceAccount", "name": "x", "namespace": "ns"}) + [
        {"kind": "ClusterRoleBinding", "metadata": {"name": "cb"}, "roleRef": {"kind": "ClusterRole", "name": "c"},
         "subjects": [{"kind": "ServiceAccount", "name": "sa", "namespace": "ns"}]}])
    assert auth.allowed("ns", "sa", req(resource="secrets", namespace="any"))
    assert auth.grants("ns", "sa", {("", "secrets"), ("", "pods")}, "any") == {("get", "", "secrets")}
