"""Render mode: every inventory (and the OpenShift flavour) rendered to YAML, validated with
kubernetes-validate --strict at the oldest and newest Kubernetes we support, checked by
policy, and proven to be what the apply path sends."""

import pathlib
import subprocess

import pytest
import yaml

from conftest import BIN, ENVIRONMENTS, failure_messages
from lib import policy
from lib.template_objects import render_by_template

KUBE_VERSIONS = ["1.31.0", "1.37.0"]
# Custom resources: kubernetes-validate only warns on them; they are checked against the
# upstream CRD schemas by the emulator instead (test_custom_resources_match_their_crds).
CUSTOM_KINDS = {"Route", "ServiceMonitor", "PodMonitor", "PrometheusRule", "SparkApplication",
                "ScheduledSparkApplication", "VolumeSnapshot", "VolumeSnapshotClass",
                "PeerAuthentication", "AuthorizationPolicy", "Certificate"}
FLAVOURS = [(env, "kubernetes") for env in ENVIRONMENTS] + [("prod", "openshift")]


def render(ansible, env, folder, *args, **extra_vars):
    run = ansible.playbook("site.yml", env, *args, extra_vars=dict(edp_render_dir=str(folder), **extra_vars))
    assert run.rc == 0, failure_messages(run)
    return run


def load(folder):
    """Every rendered object below folder (manifests and Secrets), by path."""
    return {p: yaml.safe_load(p.read_text()) for p in sorted(pathlib.Path(folder).rglob("*.yaml"))
            if p.name != "kustomization.yaml"}


def tenant_dir(folder, env, tenant, part="manifests"):
    return pathlib.Path(folder) / env / part / tenant


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    """Every inventory rendered once for the module: {(env, flavour): folder}."""
    from conftest import Ansible

    ansible = Ansible(tmp_path_factory.mktemp("render-ansible"))
    result = {}
    for env, flavour in FLAVOURS:
        folder = tmp_path_factory.mktemp("render-%s-%s" % (env, flavour))
        render(ansible, env, folder, edp_flavour=flavour)
        result[(env, flavour)] = folder
    return result


@pytest.fixture(scope="module")
def by_template(tmp_path_factory):
    """What each listed template renders on its own, for every tenant of every inventory:
    {(env, flavour): {tenant: {role: {template: [{"file", "secret"}]}}}} (lib/template_objects.py)."""
    from conftest import Ansible

    ansible = Ansible(tmp_path_factory.mktemp("by-template-ansible"))
    return {(env, flavour): render_by_template(ansible, tmp_path_factory.mktemp("by-template"), env,
                                               edp_flavour=flavour)
            for env, flavour in FLAVOURS}


def expected_files(roles, secret):
    """The file names render mode writes for a tenant's objects (Secrets, or the others), and the
    folder's kustomization."""
    return sorted([o["file"] for templates in roles.values() for objects in templates.values()
                   for o in objects if o["secret"] is secret] + ["kustomization.yaml"])


@pytest.mark.parametrize("env,flavour", FLAVOURS)
def test_every_tenant_of_every_inventory_is_rendered(rendered, by_template, env, flavour):
    """Each tenant's folders hold exactly what its roles' templates render (site.yml's roles,
    each template of <role>_k8s_templates rendered on its own): nothing missing, nothing more,
    Secrets apart from the manifests."""
    root = rendered[(env, flavour)] / env
    expected = by_template[(env, flavour)]
    for part in ("manifests", "secrets"):
        assert sorted(p.name for p in (root / part).iterdir()) == sorted(expected), part
    for tenant, roles in expected.items():
        for part, secret in (("manifests", False), ("secrets", True)):
            files = sorted(p.name for p in (root / part / tenant).iterdir())
            assert files == expected_files(roles, secret), (tenant, part)


# The switches of the objects that no inventory renders (features off by default). With them on,
# every listed template must render an object: one that renders nothing whatever the inventory
# says is dead, or its switch belongs here.
FEATURES_ON = {
    "network_policy_istio": True,
    "postgres_pgbouncer": True,
    "dr_snapshot_class": "csi-snapclass",
    "postgres_tls_issuer": {"kind": "ClusterIssuer", "name": "platform-ca"},
    "airflow_worker_spark_operator": True,
    "airflow_config": {"AIRFLOW__SECRETS__BACKEND":
                       "airflow.providers.cncf.kubernetes.secrets.kubernetes_secrets_backend.KubernetesSecretsBackend"},
    "airflow_auth": "ldap",
    "airflow_ldap_url": "ldaps://ldap.example.com",
    "airflow_ldap_bind_dn": "cn=airflow,ou=services,dc=example,dc=com",
    "airflow_ldap_bind_password": "features-bind-password",
    "airflow_ldap_search_base": "ou=people,dc=example,dc=com",
    "airflow_ldap_roles": {"cn=airflow-ops,ou=groups,dc=example,dc=com": ["Op"]},
}


def test_every_listed_template_renders_an_object(by_template, tmp_path_factory):
    from conftest import Ansible

    features = render_by_template(Ansible(tmp_path_factory.mktemp("features-ansible")),
                                  tmp_path_factory.mktemp("features"), "dev", edp_flavour="kubernetes",
                                  **FEATURES_ON)
    renders = [tenant for render in list(by_template.values()) + [features] for tenant in render.values()]
    silent = sorted("%s/templates/%s" % (role, template)
                    for role, templates in renders[0].items() for template in templates
                    if not any(tenant[role][template] for tenant in renders))
    assert silent == [], "these templates render nothing in any inventory, flavour or with FEATURES_ON"


@pytest.mark.parametrize("kube_version", KUBE_VERSIONS)
@pytest.mark.parametrize("env,flavour", FLAVOURS)
def test_rendered_objects_are_valid_kubernetes_strict(rendered, env, flavour, kube_version):
    files = [str(p) for p, doc in load(rendered[(env, flavour)]).items() if doc["kind"] not in CUSTOM_KINDS]
    proc = subprocess.run([str(BIN / "kubernetes-validate"), "--strict", "--quiet", "-k", kube_version] + files,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "warn" not in (proc.stdout + proc.stderr).lower(), proc.stdout + proc.stderr


@pytest.mark.parametrize("env,flavour", FLAVOURS)
def test_custom_resources_match_their_crds(rendered, emulator, env, flavour):
    """Every rendered object, custom resources included, is accepted by an API server that
    knows the upstream CRDs, with strict field validation (dry run: nothing is stored)."""
    import json
    import urllib.error
    import urllib.request

    from conftest import register_openshift

    if flavour == "openshift":
        register_openshift(emulator)
    docs = sorted(load(rendered[(env, flavour)]).values(), key=lambda d: d["kind"] != "Namespace")
    custom = [d for d in docs if d["kind"] in CUSTOM_KINDS]
    assert custom or flavour != "openshift", "the OpenShift render has no Route"
    for doc in docs:
        kinds = {"Namespace": "/api/v1/namespaces"}
        if doc["kind"] != "Namespace" and doc["kind"] not in CUSTOM_KINDS:
            continue
        group_version = doc["apiVersion"]
        path = kinds.get(doc["kind"]) or "/apis/%s/namespaces/%s/%ss" % (
            group_version, doc["metadata"]["namespace"], doc["kind"].lower())
        query = "?fieldValidation=Strict" + ("" if doc["kind"] == "Namespace" else "&dryRun=All")
        req = urllib.request.Request(emulator.url + path + query, data=json.dumps(doc).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
        try:
            urllib.request.urlopen(req).read()
        except urllib.error.HTTPError as exc:
            raise AssertionError("%s %s refused: %s" % (doc["kind"], doc["metadata"]["name"], exc.read()[:500]))


@pytest.mark.parametrize("env,flavour", FLAVOURS)
def test_rendered_objects_pass_the_policy_checks(rendered, env, flavour):
    objects = list(load(rendered[(env, flavour)]).values())
    assert policy.violations(objects, openshift=flavour == "openshift") == []


def test_resources_graduate_from_dev_to_prod(rendered):
    def quota(env):
        path = tenant_dir(rendered[(env, "kubernetes")], env, "finance") / "02-resourcequota-finance-quota.yaml"
        return yaml.safe_load(path.read_text())["spec"]["hard"]
    from ansible_collections.edp.platform.plugins.module_utils.k8s_objects import parse_quantity
    for field in ("requests.cpu", "requests.memory", "limits.memory", "requests.storage", "pods"):
        values = [parse_quantity(quota(env)[field]) for env in ENVIRONMENTS]
        assert values == sorted(values) and values[0] < values[-1], (field, values)


def test_rerender_changes_nothing(ansible_offline, tmp_path):
    render(ansible_offline, "dev", tmp_path)
    run = render(ansible_offline, "dev", tmp_path)
    assert run.changed() == 0


def test_render_removes_files_of_objects_no_longer_rendered(ansible_offline, tmp_path):
    render(ansible_offline, "dev", tmp_path)
    secret = tenant_dir(tmp_path, "dev", "finance", "secrets") / "05-secret-edp-registry.yaml"
    assert secret.exists()
    render(ansible_offline, "dev", tmp_path, edp_registry="")
    assert not secret.exists()
    assert "05-secret-edp-registry.yaml" not in (secret.parent / "kustomization.yaml").read_text()
    assert (tenant_dir(tmp_path, "dev", "finance") / "02-resourcequota-finance-quota.yaml").exists()


def test_render_mode_needs_no_cluster(ansible_offline, tmp_path):
    run = render(ansible_offline, "prod", tmp_path, edp_kubeconfig=str(tmp_path / "does-not-exist"))
    assert run.changed() == 2


def test_what_is_rendered_is_what_is_applied(ansible, emulator, tmp_path):
    """Render mode is the apply path without the apply: the cluster holds exactly the rendered objects."""
    from ansible_collections.edp.platform.plugins.module_utils import k8s_objects as ko

    render(ansible, "dev", tmp_path / "render")
    run = ansible.playbook("site.yml", "dev")
    assert run.rc == 0, failure_messages(run)
    for path, doc in load(tmp_path / "render").items():
        meta = doc["metadata"]
        live = emulator.get_object(doc["apiVersion"], doc["kind"], meta["name"], meta.get("namespace"))
        assert live is not None, "%s rendered but not applied" % path.name
        # Generated keys: render mode and the cluster each made their own value, once.
        # (edp.platform/generate's keys, and edp.platform/generate-tls's authority and certificate.)
        for key in sorted(ko.generated_keys(doc)):
            if key in doc.get("data", {}):
                assert key in live["data"], "%s: generated key %s was not applied" % (path.name, key)
                doc["data"][key] = live["data"][key]
        assert ko.is_subset(doc, live), "%s differs from what was applied" % path.name


# Who logs in (airflow_auth): LDAP and OpenID Connect, rendered for dev; the bind password and the
# client secret must be in the Secret airflow-auth only, and nowhere in the output at -vvv.
AUTH_SECRETS = {"ldap": "bind-" + "Zq7xL3vR9tPw", "oidc": "client-" + "Hn4kT8mWs2Ye"}
AUTH_SETTINGS = {
    "ldap": {"airflow_auth": "ldap", "airflow_ldap_url": "ldap://ldap.example.com", "airflow_ldap_start_tls": True,
             "airflow_ldap_ca_cert": None,  # filled in by the test (a real PEM)
             "airflow_ldap_bind_dn": "cn=airflow,ou=services,dc=example,dc=com",
             "airflow_ldap_bind_password": AUTH_SECRETS["ldap"],
             "airflow_ldap_search_base": "ou=people,dc=example,dc=com",
             "airflow_ldap_roles": {"cn=airflow-ops,ou=groups,dc=example,dc=com": ["Op"],
                                    "cn=airflow-viewers,ou=groups,dc=example,dc=com": ["Viewer"]}},
    "oidc": {"airflow_auth": "oidc", "airflow_oidc_issuer": "https://idp.example.com/realms/edp",
             "airflow_oidc_client_id": "airflow", "airflow_oidc_client_secret": AUTH_SECRETS["oidc"],
             "airflow_oidc_roles": {"airflow-ops": ["Op"]}, "airflow_ingress_host": "airflow.finance.example.com"},
}


@pytest.mark.parametrize("auth", ["ldap", "oidc"])
def test_auth_objects_are_valid_and_hold_their_secret_only_in_the_auth_secret(ansible_offline, tmp_path, auth):
    import base64

    from lib.ldap_server import make_tls

    settings = dict(AUTH_SETTINGS[auth])
    if auth == "ldap":
        ca, _, _ = make_tls(tmp_path)
        settings["airflow_ldap_ca_cert"] = ca.read_text()
    secret = AUTH_SECRETS[auth]
    folder = tmp_path / "render"
    run = render(ansible_offline, "dev", folder, "-vvv", edp_flavour="kubernetes", **settings)
    assert secret not in run.output, "the %s secret shows in the -vvv output" % auth
    objects = load(folder)
    files = [str(p) for p, doc in objects.items() if doc["kind"] not in CUSTOM_KINDS]
    for version in KUBE_VERSIONS:
        proc = subprocess.run([str(BIN / "kubernetes-validate"), "--strict", "--quiet", "-k", version] + files,
                              capture_output=True, text=True)
        assert proc.returncode == 0, proc.stdout + proc.stderr
    holding = sorted(str(p.relative_to(folder)) for p in objects if secret in p.read_text()
                     or base64.b64encode(secret.encode()).decode() in p.read_text())
    auth_secrets = sorted(str(p.relative_to(folder)) for p, doc in objects.items()
                          if doc["kind"] == "Secret" and doc["metadata"]["name"] == "airflow-auth")
    assert auth_secrets and holding == auth_secrets, "the %s secret is in %s" % (auth, holding)
    config = [d for d in objects.values() if d["metadata"]["name"] == "airflow-webserver-config"
              and d["metadata"]["namespace"] == "finance-dev"]
    auth_type = "AUTH_TYPE = AUTH_%s" % {"ldap": "LDAP", "oidc": "OAUTH"}[auth]
    assert config and auth_type in config[0]["data"]["webserver_config.py"]
    api = [d for d in objects.values() if d["kind"] == "Deployment" and d["metadata"]["name"] == "airflow-api-server"
           and d["metadata"]["namespace"] == "finance-dev"][0]
    env = {e["name"]: e for e in api["spec"]["template"]["spec"]["containers"][0]["env"]}
    name = {"ldap": "EDP_AIRFLOW_LDAP_BIND_PASSWORD", "oidc": "EDP_AIRFLOW_OIDC_CLIENT_SECRET"}[auth]
    assert env[name]["valueFrom"]["secretKeyRef"]["name"] == "airflow-auth"
    if auth == "oidc":
        configmap = [d for d in objects.values() if d["metadata"]["name"] == "airflow-config"
                     and d["metadata"]["namespace"] == "finance-dev"][0]
        assert configmap["data"]["AIRFLOW__API__BASE_URL"] == "https://airflow.finance.example.com", \
            "the provider's redirect base is not the Ingress host"
