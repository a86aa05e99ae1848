"""Render mode: every inventory (and the OpenShift flavour) rendered to YAML, validated with
kubernetes-validate --strict at the oldest and newest Kubernetes we support, checked by
policy, and proven to be what the apply path sends."""

import pathlib
import subprocess

import pytest
import yaml

from conftest import BIN, ENVIRONMENTS, failure_messages
from lib import policy

KUBE_VERSIONS = ["1.31.0", "1.37.0"]
# Custom resources: kubernetes-validate only warns on them; they are checked against the
# upstream CRD schemas by the emulator instead (test_custom_resources_match_their_crds).
CUSTOM_KINDS = {"Route", "ServiceMonitor", "PodMonitor", "PrometheusRule", "SparkApplication",
                "ScheduledSparkApplication", "VolumeSnapshot", "VolumeSnapshotClass",
                "PeerAuthentication", "AuthorizationPolicy", "Certificate"}
FLAVOURS = [(env, "kubernetes") for env in ENVIRONMENTS] + [("prod", "openshift")]


def render(ansible, env, folder, **extra_vars):
    run = ansible.playbook("site.yml", env, extra_vars=dict(edp_render_dir=str(folder), **extra_vars))
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


@pytest.mark.parametrize("env,flavour", FLAVOURS)
def test_every_tenant_of_every_inventory_is_rendered(rendered, env, flavour):
    root = rendered[(env, flavour)] / env
    for part in ("manifests", "secrets"):
        assert sorted(p.name for p in (root / part).iterdir()) == ["finance", "marketing"], part
    for tenant in ("finance", "marketing"):
        files = sorted(p.name for p in (root / "manifests" / tenant).iterdir())
        assert files == [
            "01-namespace-%s-%s.yaml" % (tenant, env),
            "02-resourcequota-%s-quota.yaml" % tenant,
            "03-limitrange-%s-limits.yaml" % tenant,
            "04-serviceaccount-airflow-api-server.yaml",
            "04-serviceaccount-airflow-scheduler.yaml",
            "04-serviceaccount-airflow-worker.yaml",
            "04-serviceaccount-airflow.yaml",
            "04-serviceaccount-edp-dr.yaml",
            "04-serviceaccount-spark-driver.yaml",
            "04-serviceaccount-spark-executor.yaml",
            "06-configmap-airflow-config.yaml",
            "06-configmap-dr-scripts.yaml",
            "06-configmap-edp-dashboard-airflow.yaml",
            "06-configmap-edp-dashboard-overview.yaml",
            "06-configmap-edp-dashboard-postgres.yaml",
            "06-configmap-edp-dashboard-spark.yaml",
            "06-configmap-postgres-config.yaml",
            "06-configmap-postgres-exporter-queries.yaml",
            "06-configmap-spark-defaults.yaml",
            "06-configmap-spark-example.yaml",
            "06-configmap-statsd-exporter-mapping.yaml",
            "09-role-airflow-scheduler.yaml",
            "09-role-airflow-worker.yaml",
            "09-role-edp-dr.yaml",
            "09-role-spark-driver.yaml",
            "09-role-spark-executor.yaml",
            "10-rolebinding-airflow-scheduler.yaml",
            "10-rolebinding-airflow-worker.yaml",
            "10-rolebinding-edp-dr.yaml",
            "10-rolebinding-spark-driver.yaml",
            "10-rolebinding-spark-executor.yaml",
            "11-persistentvolumeclaim-airflow-dags.yaml",
            "11-persistentvolumeclaim-airflow-logs.yaml",
            "11-persistentvolumeclaim-postgres-backup.yaml",
            "11-persistentvolumeclaim-postgres-data.yaml",
            "11-persistentvolumeclaim-spark-event-logs.yaml",
            "11-persistentvolumeclaim-spark-example-data.yaml",
            "12-service-airflow-api-server.yaml",
            "12-service-airflow-statsd.yaml",
            "12-service-postgres-exporter.yaml",
            "12-service-postgres-headless.yaml",
            "12-service-postgres.yaml",
            "12-service-spark-history-server.yaml",
            "13-networkpolicy-airflow-api-server.yaml",
            "13-networkpolicy-airflow-dag-processor.yaml",
            "13-networkpolicy-airflow-jobs.yaml",
            "13-networkpolicy-airflow-scheduler.yaml",
            "13-networkpolicy-airflow-triggerer.yaml",
            "13-networkpolicy-airflow-worker.yaml",
            "13-networkpolicy-allow-dns.yaml",
            "13-networkpolicy-default-deny.yaml",
            "13-networkpolicy-dr-database-jobs.yaml",
            "13-networkpolicy-dr-kube-api-jobs.yaml",
            "13-networkpolicy-postgres-bootstrap.yaml",
            "13-networkpolicy-postgres-exporter.yaml",
            "13-networkpolicy-postgres.yaml",
            "13-networkpolicy-spark-driver.yaml",
            "13-networkpolicy-spark-executor.yaml",
            "13-networkpolicy-spark-history-server.yaml",
            "13-networkpolicy-statsd-exporter.yaml",
            "16-statefulset-postgres.yaml",
            "17-deployment-airflow-api-server.yaml",
            "17-deployment-airflow-dag-processor.yaml",
            "17-deployment-airflow-scheduler.yaml",
            "17-deployment-airflow-triggerer.yaml",
            "17-deployment-postgres-exporter.yaml",
            "17-deployment-spark-history-server.yaml",
            "17-deployment-statsd-exporter.yaml",
            "18-job-airflow-admin.yaml",
            "18-job-airflow-migrate.yaml",
            "18-job-postgres-bootstrap.yaml",
            "19-cronjob-config-export.yaml",
            "19-cronjob-postgres-basebackup.yaml",
            "19-cronjob-postgres-dump.yaml",
        ] + ([
            "21-route-airflow.yaml", "21-route-spark-history-server.yaml",
        ] if flavour == "openshift" else [
            "20-ingress-airflow.yaml", "20-ingress-spark-history-server.yaml",
        ]) + [
            "22-servicemonitor-edp-exporters.yaml",
            "23-podmonitor-spark-drivers.yaml",
            "24-prometheusrule-edp-alerts.yaml",
            "25-sparkapplication-spark-smoke-test.yaml",
            "kustomization.yaml",
        ], tenant
        secrets = sorted(p.name for p in (root / "secrets" / tenant).iterdir())
        assert secrets == ["05-secret-airflow-secrets.yaml", "05-secret-edp-registry.yaml",
                           "05-secret-postgres-credentials.yaml", "05-secret-postgres-tls.yaml",
                           "kustomization.yaml"], tenant


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
