"""The spark_rbac role's RBAC, evaluated as the API server's authorizer would (tests/lib/rbac.py).

The driver's account may do exactly what Spark 4.3's Kubernetes scheduler backend calls (the
role's README justifies each verb), the executors' account nothing, nothing is granted outside
the tenant's namespace and no rule has a wildcard. The same check is run on deliberately broken
copies of the objects, to show that it catches each kind of mistake.
"""

import copy
import json
import urllib.request

import pytest
import yaml

from conftest import failure_messages, render_objects
from lib import policy
from lib.rbac import Authorizer, Request, served_resources

NS = "finance-dev"
DRIVER, EXECUTOR = "spark-driver", "spark-executor"

# What the driver may do: (verb, API group, resource). roles/spark_rbac/README.md names the
# Spark class behind each entry.
DRIVER_GRANTS = (
    {(verb, "", "pods") for verb in ("get", "list", "watch", "create", "patch", "delete", "deletecollection")}
    | {("create", "", "configmaps"), ("deletecollection", "", "configmaps")}
    | {("deletecollection", "", "services")}
    | {(verb, "", "persistentvolumeclaims") for verb in ("list", "create", "deletecollection")}
)
# Resources no cluster serves: a wildcard rule would grant them, an exact one never.
SENTINELS = {("made-up.example.com", "widgets"), ("", "pods/made-up")}
# Used where no API server is asked (the mutation tests): the kinds a tenant holds, the spark
# operator's and their subresources.
STATIC_UNIVERSE = {("", r) for r in ("pods", "pods/log", "pods/exec", "pods/status", "pods/eviction", "services",
                                     "configmaps", "secrets", "persistentvolumeclaims", "serviceaccounts",
                                     "serviceaccounts/token", "events", "endpoints", "resourcequotas")} | {
    ("apps", "deployments"), ("apps", "statefulsets"), ("batch", "jobs"),
    ("rbac.authorization.k8s.io", "roles"), ("rbac.authorization.k8s.io", "rolebindings"),
    ("sparkoperator.k8s.io", "sparkapplications"), ("sparkoperator.k8s.io", "sparkapplications/status"),
    ("events.k8s.io", "events"), ("networking.k8s.io", "ingresses")} | SENTINELS


def spark_rbac_problems(objects, universe, namespace=NS):
    """Everything wrong with the Spark accounts' rights, as messages; [] when all is well."""
    problems = []
    for obj in objects:
        if obj.get("kind") in ("Role", "ClusterRole"):
            problems += policy.check_rbac(obj)
    auth = Authorizer(objects)
    executor = auth.grants(namespace, EXECUTOR, universe, namespace)
    if executor:
        problems.append("the executors' account may %s" % sorted(executor))
    driver = auth.grants(namespace, DRIVER, universe, namespace)
    if driver - DRIVER_GRANTS:
        problems.append("the driver's account may also %s" % sorted(driver - DRIVER_GRANTS))
    if DRIVER_GRANTS - driver:
        problems.append("the driver's account may not %s" % sorted(DRIVER_GRANTS - driver))
    for account in (DRIVER, EXECUTOR):
        elsewhere = auth.grants(namespace, account, universe, "another-tenant")
        if elsewhere:
            problems.append("%s may act in another namespace: %s" % (account, sorted(elsewhere)))
    return problems


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    """The dev inventory's finance tenant in render mode: every object, by kind and name."""
    from conftest import Ansible

    return render_objects(Ansible(tmp_path_factory.mktemp("ansible")), tmp_path_factory.mktemp("render"), "dev",
                          "--limit", "finance")


def find(objects, kind, name):
    [obj] = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    return obj


def test_the_applied_rbac_gives_the_driver_exactly_its_verbs_and_the_executors_nothing(ansible, emulator):
    """Every (verb, resource) the emulator serves (CRDs and subresources included), asked of the
    Roles and bindings as the API server holds them after site.yml."""
    run = ansible.playbook("site.yml", "dev", "--limit", "finance")
    assert run.rc == 0, failure_messages(run)
    objects = []
    for api, kind, plural in (("rbac.authorization.k8s.io/v1", "Role", "roles"),
                              ("rbac.authorization.k8s.io/v1", "RoleBinding", "rolebindings"),
                              ("rbac.authorization.k8s.io/v1", "ClusterRole", "clusterroles"),
                              ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", "clusterrolebindings")):
        path = "/apis/%s/%s%s" % (api, "" if kind.startswith("Cluster") else "namespaces/%s/" % NS, plural)
        with urllib.request.urlopen(emulator.url + path) as reply:
            objects += [dict(item, kind=kind) for item in json.loads(reply.read())["items"]]
    universe = served_resources(emulator.url) | SENTINELS
    assert ("sparkoperator.k8s.io", "sparkapplications") in universe and ("", "pods/log") in universe
    assert spark_rbac_problems(objects, universe) == []


def test_each_account_has_a_role_and_binding_of_its_own_and_nothing_cluster_wide(rendered):
    for account in (DRIVER, EXECUTOR):
        binding = find(rendered, "RoleBinding", account)
        assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": account}
        assert binding["subjects"] == [{"kind": "ServiceAccount", "name": account, "namespace": NS}]
    assert not [o for o in rendered if o["kind"] in ("ClusterRole", "ClusterRoleBinding")]
    assert find(rendered, "Role", EXECUTOR)["rules"] == []


def test_executors_mount_no_token_and_drivers_do(rendered):
    assert find(rendered, "ServiceAccount", EXECUTOR)["automountServiceAccountToken"] is False
    assert find(rendered, "ServiceAccount", DRIVER)["automountServiceAccountToken"] is True
    defaults = find(rendered, "ConfigMap", "spark-defaults")["data"]
    executor = yaml.safe_load(defaults["executor-pod-template.yaml"])["spec"]
    driver = yaml.safe_load(defaults["driver-pod-template.yaml"])["spec"]
    assert (executor["serviceAccountName"], executor["automountServiceAccountToken"]) == (EXECUTOR, False)
    assert (driver["serviceAccountName"], driver["automountServiceAccountToken"]) == (DRIVER, True)
    app = find(rendered, "SparkApplication", "spark-smoke-test")["spec"]
    assert app["executor"]["serviceAccount"] == EXECUTOR and app["driver"]["serviceAccount"] == DRIVER
    assert app["executor"]["template"]["spec"]["automountServiceAccountToken"] is False


def test_the_rendered_rbac_passes_the_check(rendered):
    assert spark_rbac_problems(rendered, STATIC_UNIVERSE) == []


def _rule(objects, role, resource):
    return next(r for r in find(objects, "Role", role)["rules"] if resource in r["resources"])


def _add_update(objects):
    _rule(objects, DRIVER, "pods")["verbs"].append("update")


def _wildcard_verbs(objects):
    _rule(objects, DRIVER, "configmaps")["verbs"] = ["*"]


def _wildcard_resources(objects):
    _rule(objects, DRIVER, "services")["resources"] = ["*"]


def _executor_reads_pods(objects):
    find(objects, "Role", EXECUTOR)["rules"] = [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]


def _drop_deletecollection(objects):
    _rule(objects, DRIVER, "pods")["verbs"].remove("deletecollection")


def _executor_bound_to_the_drivers_role(objects):
    find(objects, "RoleBinding", DRIVER)["subjects"].append(
        {"kind": "ServiceAccount", "name": EXECUTOR, "namespace": NS})


def _every_account_of_the_namespace_bound(objects):
    find(objects, "RoleBinding", DRIVER)["subjects"] = [
        {"kind": "Group", "name": "system:serviceaccounts:" + NS, "apiGroup": "rbac.authorization.k8s.io"}]


def _cluster_wide_driver(objects):
    objects.append({"kind": "ClusterRole", "metadata": {"name": "spark"},
                    "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]})
    objects.append({"kind": "ClusterRoleBinding", "metadata": {"name": "spark"},
                    "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "spark"},
                    "subjects": [{"kind": "ServiceAccount", "name": DRIVER, "namespace": NS}]})


def _driver_reads_logs(objects):
    _rule(objects, DRIVER, "pods")["resources"].append("pods/log")


@pytest.mark.parametrize("mutate", [
    _add_update, _wildcard_verbs, _wildcard_resources, _executor_reads_pods, _drop_deletecollection,
    _executor_bound_to_the_drivers_role, _every_account_of_the_namespace_bound, _cluster_wide_driver,
    _driver_reads_logs,
], ids=lambda f: f.__name__.strip("_"))
def test_the_check_fails_when_a_rule_is_broken(rendered, mutate):
    objects = copy.deepcopy(rendered)
    mutate(objects)
    assert spark_rbac_problems(objects, STATIC_UNIVERSE) != [], "the check missed %s" % mutate.__name__


def test_the_task_pods_account_may_run_spark_kubernetes_operator_and_no_more_on_spark_applications(rendered):
    """What the provider's SparkKubernetesOperator calls from a task (CustomObjectLauncher, PodManager)
    where the inventory enables it (airflow_worker_spark_operator, on in dev): allowed to the task
    pods' account; any other verb on SparkApplications: not. (The deferrable mode's trigger runs in
    the triggerer, which gets none of it: tests/integration/test_airflow_rbac.py.)"""
    auth = Authorizer(rendered)
    needed = [("create", "sparkoperator.k8s.io", "sparkapplications"),
              ("delete", "sparkoperator.k8s.io", "sparkapplications"),
              ("get", "sparkoperator.k8s.io", "sparkapplications/status"),
              ("list", "", "pods"), ("get", "", "pods"), ("patch", "", "pods"), ("get", "", "pods/log"),
              ("list", "", "events")]
    for verb, group, resource in needed:
        assert auth.allowed(NS, "airflow-worker", Request(verb, group, resource, NS)), (verb, group, resource)
    spark = {(v, r) for v, g, r in auth.grants(NS, "airflow-worker", STATIC_UNIVERSE, NS)
             if g == "sparkoperator.k8s.io"}
    assert spark == {("create", "sparkapplications"), ("delete", "sparkapplications"), ("get", "sparkapplications"),
                     ("get", "sparkapplications/status")}
