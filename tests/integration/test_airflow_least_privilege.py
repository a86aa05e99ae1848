"""Least privilege inside a tenant (issue 13), proven on the rendered objects.

* Every reference to a Secret in every pod the prod inventory renders (Deployments, StatefulSets,
  Jobs, CronJobs, the KubernetesExecutor's pod template and Spark's templates and
  SparkApplications kept in ConfigMaps) is in ALLOWED, each entry with its reason: task pods get
  no database password and none of the instance's keys.
* Each Airflow account, evaluated as the API server's RBAC authorizer would (tests/lib/rbac.py):
  the scheduler may do exactly what the KubernetesExecutor calls, the api-server, dag-processor,
  triggerer and Jobs nothing, task pods nothing unless the inventory enables an operator, and
  no Airflow account reads Secrets unless Airflow's secrets backend is Kubernetes'.
* A token is mounted only where the Kubernetes API is used; Airflow's containers run with a
  read-only root filesystem and a group other than 0 on vanilla Kubernetes.
Each check is also run on a broken copy, to show that it fails.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass

import pytest
import yaml

from conftest import failure_messages, render_objects
from lib import policy
from lib.rbac import Authorizer, Request
from lib.secret_refs import Ref, secret_references

NS = "finance-prod"
DB_LOGIN = {"airflow-user", "airflow-password", "airflow-database"}
AIRFLOW_SERVERS = r"Deployment/airflow-(api-server|scheduler|dag-processor|triggerer)"


@dataclass(frozen=True)
class Allow:
    where: str  # regular expression on Ref.where (Kind/name, or ConfigMap/name:key)
    container: str  # regular expression on the container's name ("" for pod-level references)
    secret: str
    keys: frozenset
    why: str

    def allows(self, ref: Ref) -> bool:
        return (re.fullmatch(self.where, ref.where) is not None
                and re.fullmatch(self.container, ref.container) is not None
                and ref.secret == self.secret and ref.key in self.keys)


# Every secret reference a rendered pod may hold, and why. Anything else fails the test.
ALLOWED = [
    Allow(".*", "", "edp-registry", frozenset({".dockerconfigjson"}),
          "imagePullSecrets: the kubelet pulls the image with it; the pod never sees it"),
    Allow(AIRFLOW_SERVERS + "|Job/airflow-(migrate|admin)",
          "wait-for-migrations|wait-for-database|api-server|scheduler|dag-processor|triggerer|migrate|admin",
          "postgres-credentials", frozenset(DB_LOGIN),
          "Airflow's own database login (not the superuser): these run or wait for the metadata database"),
    Allow(AIRFLOW_SERVERS, "api-server|scheduler|dag-processor|triggerer", "airflow-secrets",
          frozenset({"fernet-key"}),
          "decrypts connections and variables: the api-server serves them to tasks, the others "
          "resolve them in process"),
    Allow("Job/airflow-migrate", "migrate", "airflow-secrets", frozenset({"fernet-key"}),
          "migrations that rewrite encrypted columns"),
    Allow("Deployment/airflow-(api-server|scheduler)", "api-server|scheduler", "airflow-secrets",
          frozenset({"jwt-secret"}),
          "the scheduler signs each task's execution-API token, the api-server checks it"),
    Allow("Deployment/airflow-(api-server|scheduler|triggerer)", "api-server|scheduler|triggerer",
          "airflow-secrets", frozenset({"api-secret-key"}),
          "the api-server's sessions and signed log requests, checked by the scheduler's and "
          "triggerer's log servers"),
    Allow("Job/airflow-admin", "admin|", "airflow-secrets", frozenset({"admin-username", "admin-password"}),
          "creates the first admin (the password from a file of a Secret volume)"),
    Allow("Deployment/airflow-api-server", "api-server", "airflow-auth",
          frozenset({"ldap-bind-password", "oidc-client-secret"}),
          "with airflow_auth ldap or oidc, the api-server alone logs users in: the directory's search "
          "account or the provider's client secret, read by webserver_config.py from its environment"),
    Allow("Deployment/airflow-api-server", "", "airflow-auth", frozenset({"ldap-ca.crt"}),
          "the LDAP server's certificate authority (public), the file the api-server verifies it against"),
    Allow("StatefulSet/postgres|Job/postgres-bootstrap", "postgres|bootstrap", "postgres-credentials",
          frozenset({"superuser-password"}), "PostgreSQL's superuser: initdb, and the bootstrap creating "
          "Airflow's role and database"),
    Allow("Job/postgres-bootstrap", "bootstrap", "postgres-credentials", frozenset(DB_LOGIN),
          "the bootstrap creates Airflow's role and database with this login"),
    Allow("CronJob/postgres-(dump|basebackup)", "dump|basebackup", "postgres-credentials",
          frozenset({"superuser-password"}), "pg_dump of every table and pg_basebackup (replication) "
          "need the superuser"),
    Allow("Deployment/postgres-exporter", "postgres-exporter", "postgres-credentials",
          frozenset({"superuser", "superuser-password"}),
          "postgres_exporter's queries on pg_stat_* and Airflow's tables (the monitoring role)"),
    Allow(AIRFLOW_SERVERS + "|Job/airflow-(migrate|admin)|Job/postgres-bootstrap|CronJob/postgres-(dump|basebackup)"
          "|Deployment/postgres-exporter", "", "postgres-tls", frozenset({"ca.crt"}),
          "the database's certificate authority (public), the only key of the Secret its clients mount: "
          "they verify the server (sslmode=verify-full)"),
    Allow("StatefulSet/postgres", "", "postgres-tls", frozenset({"tls.crt", "tls.key"}),
          "the server's own certificate and key; the authority's key (ca.key) is mounted nowhere"),
    Allow("StatefulSet/postgres", "", "postgres-tls", frozenset({"ca.crt"}),
          "with PgBouncer (prod runs it), the authority whose client certificates the server accepts "
          "(ssl_ca_file): PgBouncer logs in with one"),
    Allow("Deployment/pgbouncer", "", "postgres-tls", frozenset({"pgbouncer.crt", "pgbouncer.key", "ca.crt"}),
          "PgBouncer's own certificate and key (the server its clients verify, the client the server "
          "lets in as pgbouncer) and the authority it verifies the server against; no password"),
]


def unexpected(refs):
    return sorted({r for r in refs if not any(a.allows(r) for a in ALLOWED)},
                  key=lambda r: (r.where, r.container, r.secret, r.key))


def render(ansible, folder, *args, **extra_vars):
    return render_objects(ansible, folder, "prod", *args, **extra_vars)


def tenant(objects, name="finance"):
    return [o for o in objects if (o["metadata"].get("labels") or {}).get("edp.platform/tenant") == name]


def find(objects, kind, name):
    [obj] = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    return obj


def worker_pod(objects):
    return yaml.safe_load(find(objects, "ConfigMap", "airflow-config")["data"]["pod_template_file.yaml"])


def set_worker_pod(objects, pod):
    find(objects, "ConfigMap", "airflow-config")["data"]["pod_template_file.yaml"] = yaml.safe_dump(pod)


@pytest.fixture(scope="module")
def prod(tmp_path_factory):
    """The prod inventory (both tenants) as rendered, for vanilla Kubernetes."""
    from conftest import Ansible

    return render(Ansible(tmp_path_factory.mktemp("ansible")), tmp_path_factory.mktemp("render"))


# Logins from an LDAP directory (airflow_auth), as prod allows them: ldaps, the authority given.
LDAP_LOGIN = {
    "airflow_auth": "ldap", "airflow_ldap_url": "ldaps://ldap.example.com",
    "airflow_ldap_bind_dn": "cn=airflow,ou=services,dc=example,dc=com", "airflow_ldap_bind_password": "b1nd-S3cret",
    "airflow_ldap_search_base": "ou=people,dc=example,dc=com",
    "airflow_ldap_roles": {"cn=airflow-ops,ou=groups,dc=example,dc=com": ["Op"]},
}


@pytest.fixture(scope="module")
def variants(tmp_path_factory):
    """finance in prod with other inventory choices: {name: objects}."""
    from conftest import Ansible

    from lib.ldap_server import make_tls

    ansible = Ansible(tmp_path_factory.mktemp("ansible"))
    backend = "airflow.providers.cncf.kubernetes.secrets.kubernetes_secrets_backend.KubernetesSecretsBackend"
    choices = {
        "no-operators": {"airflow_worker_spark_operator": False},
        "pod-operator": {"airflow_worker_pod_operator": True},
        "secrets-backend": {"airflow_config": {"AIRFLOW__SECRETS__BACKEND": backend}},
        "openshift": {"edp_flavour": "openshift"},
        "istio": {"network_policy_istio": True},
        "ldap": dict(LDAP_LOGIN, airflow_ldap_ca_cert=make_tls(tmp_path_factory.mktemp("ldap-ca"))[0].read_text()),
    }
    return {name: render(ansible, tmp_path_factory.mktemp(name), "--limit", "finance", **extra)
            for name, extra in choices.items()}


# -- secret references -----------------------------------------------------------------------

def test_every_secret_reference_of_every_pod_is_in_the_justified_allow_list(prod):
    refs = list(secret_references(prod))
    assert any(r.where == "ConfigMap/airflow-config:pod_template_file.yaml" for r in refs), \
        "the walk did not reach the KubernetesExecutor's pod template"
    assert any(r.where.startswith("CronJob/") for r in refs) and any(r.where.startswith("SparkApplication/") for r in refs)
    assert unexpected(refs) == [], "secret references without a reason in ALLOWED"
    assert all(a.why for a in ALLOWED)


def test_task_pods_get_no_database_password_and_no_key(prod):
    for name in ("finance", "marketing"):
        refs = [r for r in secret_references(tenant(prod, name))
                if r.where == "ConfigMap/airflow-config:pod_template_file.yaml"]
        assert {(r.secret, r.how) for r in refs} == {("edp-registry", "imagePullSecrets")}, refs
        [base] = worker_pod(tenant(prod, name))["spec"]["containers"]
        names = {e["name"] for e in base.get("env") or []}
        assert not names & {"AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "PGPASSWORD", "AIRFLOW__CORE__FERNET_KEY",
                            "AIRFLOW__API_AUTH__JWT_SECRET", "AIRFLOW__API__SECRET_KEY"}, names
    # What they do get: the execution API's address (the token comes with each workload).
    data = find(tenant(prod), "ConfigMap", "airflow-config")["data"]
    assert data["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://airflow-api-server:8080/execution/"


def _env_key(pod):
    pod["spec"]["containers"][0].setdefault("env", []).append(
        {"name": "AIRFLOW__CORE__FERNET_KEY", "valueFrom": {"secretKeyRef": {"name": "airflow-secrets", "key": "fernet-key"}}})


def _env_from(pod):
    pod["spec"]["containers"][0].setdefault("envFrom", []).append({"secretRef": {"name": "postgres-credentials"}})


def _projected(pod):
    pod["spec"]["volumes"].append({"name": "keys", "projected": {"sources": [{"secret": {"name": "airflow-secrets"}}]}})


def _secret_volume(pod):
    pod["spec"]["volumes"].append({"name": "keys", "secret": {"secretName": "postgres-credentials"}})


@pytest.mark.parametrize("mutate", [_env_key, _env_from, _projected, _secret_volume], ids=lambda f: f.__name__.strip("_"))
def test_the_allow_list_check_fails_when_task_pods_get_a_secret(prod, mutate):
    objects = copy.deepcopy(tenant(prod))
    pod = worker_pod(objects)
    mutate(pod)
    set_worker_pod(objects, pod)
    assert unexpected(secret_references(objects)) != [], "the check missed %s" % mutate.__name__


def test_the_allow_list_check_fails_when_a_component_gets_a_key_it_does_not_use(prod):
    objects = copy.deepcopy(tenant(prod))
    processor = find(objects, "Deployment", "airflow-dag-processor")["spec"]["template"]["spec"]["containers"][0]
    processor["env"].append({"name": "AIRFLOW__API_AUTH__JWT_SECRET",
                             "valueFrom": {"secretKeyRef": {"name": "airflow-secrets", "key": "jwt-secret"}}})
    assert [r.key for r in unexpected(secret_references(objects))] == ["jwt-secret"]


# -- RBAC ------------------------------------------------------------------------------------

ACCOUNTS = ("airflow", "airflow-api-server", "airflow-scheduler", "airflow-worker")
UNIVERSE = {("", r) for r in ("pods", "pods/log", "pods/exec", "pods/attach", "pods/portforward", "pods/ephemeralcontainers",
                              "services", "configmaps", "secrets", "persistentvolumeclaims", "serviceaccounts",
                              "serviceaccounts/token", "events", "endpoints")} | {
    ("apps", "deployments"), ("apps", "statefulsets"), ("batch", "jobs"), ("batch", "cronjobs"),
    ("rbac.authorization.k8s.io", "roles"), ("rbac.authorization.k8s.io", "rolebindings"),
    ("sparkoperator.k8s.io", "sparkapplications"), ("sparkoperator.k8s.io", "sparkapplications/status"),
    ("events.k8s.io", "events"), ("made-up.example.com", "widgets")}
# The KubernetesExecutor (provider 10.25): create, delete, read, list, watch, patch its pods.
SCHEDULER = {(v, "", "pods") for v in ("create", "delete", "get", "list", "patch", "watch")}
SPARK_OPERATOR = ({(v, "", "pods") for v in ("get", "list", "patch")} | {("get", "", "pods/log"), ("list", "", "events")}
                  | {(v, "sparkoperator.k8s.io", "sparkapplications") for v in ("create", "delete", "get")}
                  | {("get", "sparkoperator.k8s.io", "sparkapplications/status")})
POD_OPERATOR = ({(v, "", "pods") for v in ("create", "delete", "get", "list", "patch")}
                | {("get", "", "pods/log"), ("list", "", "events"), ("create", "", "pods/exec"), ("get", "", "pods/exec")})
READ_SECRETS = {(v, "", "secrets") for v in ("get", "list", "watch")}


def airflow_rbac_problems(objects, worker=frozenset(), secrets_backend=False, namespace=NS):
    """Everything wrong with the Airflow accounts' rights, as messages; [] when all is well.
    worker: what the inventory lets task pods do; secrets_backend: Airflow reads Kubernetes Secrets."""
    problems = [p for o in objects for p in policy.check_rbac(o)]
    auth = Authorizer(objects)
    grants = {a: auth.grants(namespace, a, UNIVERSE, namespace) for a in ACCOUNTS}
    worker_may = grants["airflow-worker"]
    if ("create", "", "pods") in worker_may and ("create", "", "pods") not in worker:
        problems.append("task pods may create pods")
    if worker_may & READ_SECRETS:
        problems.append("task pods may read Secrets: %s" % sorted(worker_may & READ_SECRETS))
    backend = {("list", "", "secrets")} if secrets_backend else set()
    want = {"airflow-scheduler": SCHEDULER | backend, "airflow-api-server": backend, "airflow": backend,
            "airflow-worker": set(worker)}
    for account, expected in want.items():
        if grants[account] - expected:
            problems.append("%s may also %s" % (account, sorted(grants[account] - expected)))
        if expected - grants[account]:
            problems.append("%s may not %s" % (account, sorted(expected - grants[account])))
    for account in ACCOUNTS:
        elsewhere = auth.grants(namespace, account, UNIVERSE, "another-tenant")
        if elsewhere:
            problems.append("%s may act in another namespace: %s" % (account, sorted(elsewhere)))
    return problems


def test_each_airflow_account_may_do_exactly_what_it_uses(prod):
    # prod lets tasks run SparkKubernetesOperator (airflow_worker_spark_operator: the example pipeline).
    assert airflow_rbac_problems(tenant(prod), worker=SPARK_OPERATOR) == []
    assert airflow_rbac_problems(tenant(prod, "marketing"), worker=SPARK_OPERATOR, namespace="marketing-prod") == []


def test_task_pods_may_do_nothing_by_default(variants):
    objects = variants["no-operators"]
    assert airflow_rbac_problems(objects) == []
    assert not [o for o in objects if o["kind"] in ("Role", "RoleBinding") and o["metadata"]["name"] == "airflow-worker"]
    assert worker_pod(objects)["spec"]["automountServiceAccountToken"] is False


def test_kubernetes_pod_operator_is_an_explicit_choice(variants):
    objects = variants["pod-operator"]
    assert airflow_rbac_problems(objects, worker=SPARK_OPERATOR | POD_OPERATOR) == []
    assert worker_pod(objects)["spec"]["automountServiceAccountToken"] is True


def test_only_a_kubernetes_secrets_backend_lets_airflow_list_secrets(variants):
    objects = variants["secrets-backend"]
    assert airflow_rbac_problems(objects, worker=SPARK_OPERATOR, secrets_backend=True) == []
    for component in ("api-server", "scheduler", "dag-processor", "triggerer"):
        spec = find(objects, "Deployment", "airflow-" + component)["spec"]["template"]["spec"]
        assert spec["automountServiceAccountToken"] is True, component


def _worker_creates_pods(objects):
    find(objects, "Role", "airflow-worker")["rules"][0]["verbs"].append("create")


def _worker_reads_secrets(objects):
    find(objects, "Role", "airflow-worker")["rules"].append({"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]})


def _worker_bound_to_the_schedulers_role(objects):
    find(objects, "RoleBinding", "airflow-scheduler")["subjects"].append(
        {"kind": "ServiceAccount", "name": "airflow-worker", "namespace": NS})


def _every_account_bound(objects):
    find(objects, "RoleBinding", "airflow-scheduler")["subjects"] = [
        {"kind": "Group", "name": "system:serviceaccounts:" + NS, "apiGroup": "rbac.authorization.k8s.io"}]


def _scheduler_reads_secrets(objects):
    find(objects, "Role", "airflow-scheduler")["rules"][0]["resources"].append("secrets")


def _api_server_bound(objects):
    find(objects, "RoleBinding", "airflow-worker")["subjects"].append(
        {"kind": "ServiceAccount", "name": "airflow-api-server", "namespace": NS})


def _scheduler_execs(objects):
    find(objects, "Role", "airflow-scheduler")["rules"].append({"apiGroups": [""], "resources": ["pods/exec"], "verbs": ["create"]})


@pytest.mark.parametrize("mutate", [
    _worker_creates_pods, _worker_reads_secrets, _worker_bound_to_the_schedulers_role, _every_account_bound,
    _scheduler_reads_secrets, _api_server_bound, _scheduler_execs,
], ids=lambda f: f.__name__.strip("_"))
def test_the_rbac_check_fails_when_an_account_gets_more(prod, mutate):
    objects = copy.deepcopy(tenant(prod))
    mutate(objects)
    assert airflow_rbac_problems(objects, worker=SPARK_OPERATOR) != [], "the check missed %s" % mutate.__name__


# -- tokens, containers ----------------------------------------------------------------------

def airflow_pods(objects):
    """(name, pod spec) of every Airflow pod: Deployments, Jobs and the task pods' template."""
    for obj in objects:
        if obj["kind"] in ("Deployment", "Job") and obj["metadata"]["name"].startswith("airflow-"):
            yield obj["metadata"]["name"], policy.pod_spec(obj)
    yield "airflow-worker (pod template)", worker_pod(objects)["spec"]


def test_a_token_is_mounted_only_where_the_kubernetes_api_is_used(prod):
    mounted = {name for name, spec in airflow_pods(tenant(prod)) if spec.get("automountServiceAccountToken")}
    # The scheduler (KubernetesExecutor) and, in prod, task pods (SparkKubernetesOperator).
    assert mounted == {"airflow-scheduler", "airflow-worker (pod template)"}
    for account in ACCOUNTS:
        assert find(tenant(prod), "ServiceAccount", account)["automountServiceAccountToken"] is False


def test_airflow_containers_have_a_read_only_root_and_a_group_other_than_root(prod):
    problems = []
    for name, spec in airflow_pods(tenant(prod)):
        pod_sc = spec["securityContext"]
        if not pod_sc.get("runAsGroup") or not pod_sc.get("fsGroup"):
            problems.append("%s: group %s, fsGroup %s" % (name, pod_sc.get("runAsGroup"), pod_sc.get("fsGroup")))
        for container in spec.get("initContainers", []) + spec["containers"]:
            if container["name"].startswith("git-sync"):
                continue
            if (container.get("securityContext") or {}).get("readOnlyRootFilesystem") is not True:
                problems.append("%s/%s: root filesystem writable" % (name, container["name"]))
            mounts = {m["mountPath"] for m in container.get("volumeMounts") or []}
            if not {"/tmp", "/opt/airflow/airflow.cfg"} <= mounts:
                problems.append("%s/%s: no /tmp or airflow.cfg mounted (%s)" % (name, container["name"], sorted(mounts)))
    assert problems == []


def test_openshift_chooses_the_uid_and_group_and_every_pod_stays_restricted(variants):
    objects = variants["openshift"]
    for name, spec in airflow_pods(objects):
        assert not {"runAsUser", "runAsGroup", "fsGroup"} & set(spec["securityContext"]), name
    worker = dict(worker_pod(objects), metadata={"name": "airflow-worker", "namespace": NS})
    assert policy.check_pod_security(worker, openshift=True) == []
    assert policy.violations(objects, openshift=True) == []


def test_the_task_pods_template_passes_restricted_pod_security(prod):
    worker = dict(worker_pod(tenant(prod)), metadata={"name": "airflow-worker", "namespace": NS})
    assert policy.check_pod_security(worker) == []


def test_istio_tells_task_pods_from_airflows_components(variants):
    """Principals by ServiceAccount: the database admits Airflow's components and Jobs, never
    task pods; the api-server admits task pods (the execution API)."""
    objects = variants["istio"]

    def principals(name):
        policy_ = find(objects, "AuthorizationPolicy", name)
        return {a for rule in policy_["spec"].get("rules") or [] for source in rule.get("from") or []
                for a in source["source"].get("serviceAccounts") or []}

    # prod runs PgBouncer: the components reach the database through it, their Jobs directly.
    database, pooler = principals("postgres"), principals("pgbouncer")
    assert "%s/airflow-worker" % NS not in database | pooler
    assert {"%s/%s" % (NS, a) for a in ("airflow", "pgbouncer")} <= database
    assert {"%s/%s" % (NS, a) for a in ("airflow", "airflow-api-server", "airflow-scheduler")} == pooler
    assert "%s/airflow-worker" % NS in principals("airflow-api-server")


def test_only_the_api_server_gets_the_login_secrets(variants):
    objects = tenant(variants["ldap"])
    refs = list(secret_references(objects))
    assert unexpected(refs) == [], "secret references without a reason in ALLOWED"
    auth = sorted({(r.where, r.key) for r in refs if r.secret == "airflow-auth"})
    assert auth == [("Deployment/airflow-api-server", "ldap-bind-password"),
                    ("Deployment/airflow-api-server", "ldap-ca.crt")], auth
