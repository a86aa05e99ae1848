"""The monitoring role on Kubernetes (against the emulator, or EDP_TEST_KUBECONFIG): converge
and a rerun that writes nothing, with and without prometheus-operator's CRDs; what the objects
say (the contract the network_policy role and Airflow rely on: Service airflow-statsd and its
ports, the exporters' labels, the postgres credentials from the postgres role's Secret; the
selector labels; restricted pods; dashboards Grafana's sidecar finds); the OpenShift variant;
bad inputs refused before any write."""

import json
import pathlib

import pytest
import yaml

from conftest import REPO, failure_messages, register_openshift
from lib.emulator_http import request

NS = "finance-dev"
APPLY = "Render and apply every role's objects in one call"
HINT = "Say what to install for the custom resources the cluster does not serve"
VALIDATE = "Validate every role's inputs for this tenant"
MONITORING_CRDS = ("servicemonitors", "podmonitors", "prometheusrules")


def converge(ansible, env="dev", *args, **kwargs):
    run = ansible.playbook("site.yml", env, "--limit", "finance", *args, **kwargs)
    assert run.rc == 0, failure_messages(run)
    return run


def get(emulator, api_version, kind, name):
    return emulator.get_object(api_version, kind, name, NS)


def apply_results(run):
    return run.task_results(APPLY)["finance"]["objects"]


def pod_spec(emulator, name):
    return get(emulator, "apps/v1", "Deployment", name)["spec"]["template"]["spec"]


def test_converge_applies_monitoring_and_a_rerun_writes_nothing(ansible, emulator):
    converge(ansible)
    for kind, name in (("ConfigMap", "statsd-exporter-mapping"), ("ConfigMap", "postgres-exporter-queries"),
                       ("Service", "airflow-statsd"), ("Service", "postgres-exporter"),
                       ("ConfigMap", "edp-dashboard-overview"), ("ConfigMap", "edp-dashboard-airflow"),
                       ("ConfigMap", "edp-dashboard-postgres"), ("ConfigMap", "edp-dashboard-spark")):
        assert get(emulator, "v1", kind, name) is not None, "%s %s was not applied" % (kind, name)
    for name in ("statsd-exporter", "postgres-exporter"):
        assert get(emulator, "apps/v1", "Deployment", name) is not None
    for kind, name in (("ServiceMonitor", "edp-exporters"), ("PodMonitor", "spark-drivers"),
                       ("PrometheusRule", "edp-alerts")):
        assert get(emulator, "monitoring.coreos.com/v1", kind, name) is not None, kind
    emulator.reset_requests()
    converge(ansible)
    assert emulator.writes() == [], "the rerun wrote: %s" % emulator.writes()


def test_without_prometheus_operator_the_tenant_converges_and_says_what_to_install(ansible, emulator):
    for plural in MONITORING_CRDS:
        path = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/%s.monitoring.coreos.com" % plural
        assert request(emulator, "DELETE", path)[0] == 200
    run = converge(ansible)
    skipped = sorted((o["kind"], o["name"]) for o in apply_results(run) if o["action"] == "skipped")
    assert skipped == [("PodMonitor", "spark-drivers"), ("PrometheusRule", "edp-alerts"),
                       ("ServiceMonitor", "edp-exporters")]
    hint = run.task_results(HINT)["finance"]["msg"]
    assert "Install prometheus-operator" in hint and "monitoring_selector_labels" in hint, hint
    assert get(emulator, "apps/v1", "Deployment", "statsd-exporter") is not None
    emulator.reset_requests()
    converge(ansible)
    assert emulator.writes() == [], "the rerun without the CRDs wrote: %s" % emulator.writes()


def test_the_contract_with_airflow_and_the_network_policies(ansible, emulator):
    converge(ansible, extra_vars={"monitoring_statsd_port": 9200})
    service = get(emulator, "v1", "Service", "airflow-statsd")
    ports = {p["name"]: (p["port"], p["protocol"]) for p in service["spec"]["ports"]}
    assert ports == {"statsd": (9200, "UDP"), "metrics": (9102, "TCP")}
    assert service["spec"]["selector"]["app.kubernetes.io/component"] == "statsd-exporter"
    # Airflow sends to that Service and port.
    settings = get(emulator, "v1", "ConfigMap", "airflow-config")["data"]
    assert settings["AIRFLOW__METRICS__STATSD_HOST"] == "airflow-statsd"
    assert settings["AIRFLOW__METRICS__STATSD_PORT"] == "9200"
    exporter = pod_spec(emulator, "postgres-exporter")
    assert get(emulator, "apps/v1", "Deployment", "postgres-exporter")["spec"]["template"]["metadata"]["labels"][
        "app.kubernetes.io/component"] == "postgres-exporter"
    container = exporter["containers"][0]
    assert container["ports"] == [{"name": "metrics", "containerPort": 9187, "protocol": "TCP"}]
    env = {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}
    # Over TLS, verified against the postgres role's authority (ca.crt of postgres-tls, mounted).
    assert env["DATA_SOURCE_URI"] == "postgres:5432/airflow?sslmode=verify-full&sslrootcert=/etc/postgresql-ca/ca.crt"
    assert env["DATA_SOURCE_PASS"] == {"secretKeyRef": {"name": "postgres-credentials", "key": "superuser-password"}}
    assert container["image"] == "registry.example.com/edp/postgres-exporter:v0.17.1"
    podmonitor = get(emulator, "monitoring.coreos.com/v1", "PodMonitor", "spark-drivers")
    assert {e["path"] for e in podmonitor["spec"]["podMetricsEndpoints"]} == {
        "/metrics/prometheus", "/metrics/executors/prometheus"}
    assert all(e["port"] == "spark-ui" for e in podmonitor["spec"]["podMetricsEndpoints"])


def test_prometheus_selects_what_carries_the_selector_labels(ansible, emulator):
    converge(ansible, extra_vars={"monitoring_selector_labels": {"release": "prom", "team": "data"},
                                  "monitoring_scrape_interval": "15s"})
    for kind, name in (("ServiceMonitor", "edp-exporters"), ("PodMonitor", "spark-drivers"),
                       ("PrometheusRule", "edp-alerts")):
        labels = get(emulator, "monitoring.coreos.com/v1", kind, name)["metadata"]["labels"]
        assert labels["release"] == "prom" and labels["team"] == "data", (kind, labels)
    monitor = get(emulator, "monitoring.coreos.com/v1", "ServiceMonitor", "edp-exporters")
    assert monitor["spec"]["endpoints"] == [{"port": "metrics", "path": "/metrics", "interval": "15s"}]
    # Every rule reads the tenant's namespace only.
    rules = get(emulator, "monitoring.coreos.com/v1", "PrometheusRule", "edp-alerts")["spec"]["groups"]
    for rule in (r for g in rules for r in g["rules"]):
        assert 'namespace="%s"' % NS in rule["expr"], rule["alert"]


def test_exporters_run_restricted(ansible, emulator):
    converge(ansible)
    for name in ("statsd-exporter", "postgres-exporter"):
        spec = pod_spec(emulator, name)
        assert spec["securityContext"]["runAsNonRoot"] is True
        assert spec["securityContext"]["runAsUser"] == 65534
        assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        assert spec["automountServiceAccountToken"] is False
        container = spec["containers"][0]
        assert container["securityContext"] == {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                                                "capabilities": {"drop": ["ALL"]}}
        assert container["resources"]["limits"] and container["resources"]["requests"]


def test_dashboards_are_labelled_for_the_grafana_sidecar_and_read_the_tenant(ansible, emulator):
    converge(ansible)
    uids = set()
    names = sorted(p.stem for p in (REPO / "roles" / "monitoring" / "files" / "dashboards").glob("*.json"))
    assert names, "the monitoring role ships no dashboard"
    for name in names:
        configmap = get(emulator, "v1", "ConfigMap", "edp-dashboard-" + name)
        assert configmap["metadata"]["labels"]["grafana_dashboard"] == "1"
        board = json.loads(configmap["data"]["edp-%s.json" % name])
        assert board["title"].startswith("EDP %s: " % NS)
        constant = [v for v in board["templating"]["list"] if v["name"] == "namespace"]
        assert constant == [{"name": "namespace", "type": "constant", "query": NS, "hide": 2}]
        uids.add(board["uid"])
        assert len(board["uid"]) <= 40
    assert len(uids) == len(names), "two dashboards share a uid"


def test_openshift_gets_no_fixed_uid(ansible, emulator):
    register_openshift(emulator)
    converge(ansible)
    for name in ("statsd-exporter", "postgres-exporter"):
        security = pod_spec(emulator, name)["securityContext"]
        assert "runAsUser" not in security and "runAsGroup" not in security
        assert security["runAsNonRoot"] is True


@pytest.mark.parametrize("extra_vars,message", [
    ({"monitoring_statsd_port": 70000}, "monitoring_statsd_port: 70000 is not a port (1-65535)"),
    ({"monitoring_alert_for": "soon"},
     "monitoring_alert_for: 'soon' is not seconds or a duration such as 14d, 26h, 90m, 1d12h"),
    ({"monitoring_selector_labels": {"release": "not ok!"}},
     "monitoring_selector_labels: label 'release' has an invalid value 'not ok!'"),
    ({"edp_images": {"airflow": "registry.example.com/edp/airflow:3.3.2-edp.4",
                     "kubectl": "registry.example.com/edp/kubectl:1.32.4-edp.1",
                     "postgres": "registry.example.com/edp/postgres:15.18-edp.2",
                     "spark": "registry.example.com/edp/spark:4.3.0-edp.3",
                     "postgres_exporter": "registry.example.com/edp/postgres-exporter:v0.17.1"}},
     "edp_images.statsd_exporter: is not set"),
])
def test_bad_monitoring_input_fails_before_any_write_naming_the_variable(ansible, emulator, extra_vars, message):
    emulator.reset_requests()
    run = ansible.playbook("site.yml", "dev", "--limit", "finance", extra_vars=extra_vars)
    assert run.rc != 0
    errors = run.task_results(VALIDATE)["finance"].get("errors") or []
    assert any(e.startswith(message) for e in errors), errors
    assert emulator.writes() == []


def test_the_metrics_the_mapping_is_checked_against_are_airflows_own():
    """tests/unit/test_monitoring_rules.py checks the statsd mapping against a list of Airflow's
    documented metrics; here that list is checked against the metrics_template.yaml of the pinned
    Airflow (requirements-airflow.txt), the file Airflow's metric tables are generated from."""
    import importlib.util

    from lib.airflow_server import ensure_airflow_venv

    unit = pathlib.Path(__file__).resolve().parents[1] / "unit" / "test_monitoring_rules.py"
    spec = importlib.util.spec_from_file_location("monitoring_rules", unit)
    rules = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(rules)
    found = list(ensure_airflow_venv().glob("lib/python3*/site-packages/airflow/_shared/observability/metrics/metrics_template.yaml"))
    assert len(found) == 1, found
    template = yaml.safe_load(found[0].read_text())
    documented = {}
    for metric in template["metrics"]:
        for name in (metric["name"], metric.get("legacy_name")):
            if name and name != "-":
                documented[name] = metric["type"]
    wrong = [(name, kind, documented.get(name)) for name, kind in rules.AIRFLOW_DOCUMENTED if documented.get(name) != kind]
    assert not wrong, "not in Airflow's metrics_template.yaml as listed (name, listed type, its type): %s" % wrong
