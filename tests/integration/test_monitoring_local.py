"""Monitoring on the local target, end to end, on the session's local_platform (site.yml -i
inventories/local, with the scrape and evaluation intervals and the alerts' `for` set small by
lib/local_platform.py): Prometheus scrapes every target; the exporters produce every metric the
local rules and dashboards read, and Prometheus accepts every panel query; a DAG made to fail fires
AirflowDagRunFailed and a later successful run resolves it; PostgreSQL stopped fires PostgresDown,
started again resolves it (and the platform is healthy again before the test ends, whatever
happens). Alerts are read from Prometheus' own alerts API."""

import datetime
import json
import pathlib
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

from lib import promql
from lib.airflow_dags import add_dag, api, run_dag, token, wait_for
from lib.pgserver import pg_bindir

DASHBOARDS = pathlib.Path(__file__).resolve().parents[2] / "roles" / "monitoring" / "files" / "dashboards"
# Series that exist only after something happened (a missed deadline, a Spark task run) or that
# come from exporters of the Kubernetes target; the other names the rules and dashboards read must
# have series in the local Prometheus.
EVENTUAL = {"edp_airflow_deadline_missed", "edp_airflow_spark_task_last_failed", "edp_airflow_dag_run_last_failed",
            "ALERTS"}
KUBERNETES_ONLY = ("kube_", "container_", "kubelet_", "airflow_", "metrics_executor_")

DAG = "edp_monitoring_probe"
# A DAG that fails when its run's conf says so: the alert's real source is Airflow's dag_run table.
DAG_SOURCE = '''
from airflow.sdk import dag, task


@dag(dag_id="%s", schedule=None, catchup=False, tags=["edp-test"])
def probe():
    @task
    def maybe_fail(**context):
        if (context["dag_run"].conf or {}).get("fail"):
            raise RuntimeError("failing on purpose (the monitoring test)")

    maybe_fail()


probe()
''' % DAG


@pytest.fixture(scope="module")
def platform(local_platform):
    return local_platform


def prometheus(platform, path):
    url = "http://127.0.0.1:%d%s" % (platform.monitoring_ports["prometheus"], path)
    with urllib.request.urlopen(url, timeout=10) as reply:
        return json.loads(reply.read())["data"]


def alerts(platform, name):
    """The alerts of this name Prometheus holds: {labels-tuple: state}."""
    return {tuple(sorted(a["labels"].items())): a["state"]
            for a in prometheus(platform, "/api/v1/alerts")["alerts"] if a["labels"]["alertname"] == name}


def firing(platform, name, **labels):
    return [dict(k) for k, state in alerts(platform, name).items()
            if state == "firing" and all(dict(k).get(key) == value for key, value in labels.items())]


def test_prometheus_scrapes_every_target(platform):
    def all_up():
        targets = prometheus(platform, "/api/v1/targets")["activeTargets"]
        return targets if targets and all(t["health"] == "up" for t in targets) else None

    try:
        targets = wait_for("every target up", all_up, 60)
    except AssertionError:
        down = [(t["labels"]["job"], t["scrapeUrl"], t["lastError"])
                for t in prometheus(platform, "/api/v1/targets")["activeTargets"] if t["health"] != "up"]
        raise AssertionError("targets not up: %s" % down)
    assert {t["labels"]["job"] for t in targets} == {
        "prometheus", "postgres-exporter", "node-exporter", "blackbox-exporter", "blackbox"}
    assert all(t["labels"]["namespace"] == "demo-local" for t in targets)
    probes = {p["metric"]["instance"] for p in prometheus(platform, "/api/v1/query?query=probe_success")["result"]}
    assert probes == {"http://127.0.0.1:%d/api/v2/monitor/health" % platform.airflow_port,
                      "http://127.0.0.1:%d/api/v1/version" % platform.spark_history_port}, probes


def test_every_rule_loads_and_the_healthy_platform_fires_no_platform_alert(platform):
    groups = prometheus(platform, "/api/v1/rules")["groups"]
    assert all(r["health"] == "ok" for g in groups for r in g["rules"]), groups
    assert {g["name"] for g in groups} == {"edp-airflow", "edp-postgres", "edp-monitoring", "edp-backups", "edp-host"}
    # (ProbeFailed is left out: on a loaded 2-core machine Airflow's health answer can take longer
    # than a 2 s scrape allows; promtool's unit tests cover it.)
    for name in ("PostgresDown", "MonitoringTargetDown", "AirflowSchedulerHeartbeatMissing"):
        assert not firing(platform, name), "%s fires on the healthy platform" % name


def query(platform, expr):
    return prometheus(platform, "/api/v1/query?" + urllib.parse.urlencode({"query": expr}))["result"]


def test_the_local_exporters_produce_every_metric_the_local_rules_and_dashboards_read(platform):
    """The rules' names checked against the real exporters (promtool's tests use synthetic series)."""
    read = {}
    for group in prometheus(platform, "/api/v1/rules")["groups"]:
        for rule in group["rules"]:
            for name in promql.metric_names(rule["query"]):
                read.setdefault(name, set()).add("rule " + rule["name"])
    for path in sorted(DASHBOARDS.glob("*.json")):
        for title, expr in promql.panel_queries(json.loads(path.read_text()), "demo-local"):
            # Every panel query is accepted by this Prometheus (an error is an HTTP 400).
            query(platform, expr)
            for name in promql.metric_names(expr):
                read.setdefault(name, set()).add("dashboard %s: %s" % (path.stem, title))
    local = {name: where for name, where in read.items()
             if not name.startswith(KUBERNETES_ONLY) and name not in EVENTUAL}
    missing = {n: sorted(w) for n, w in local.items() if not query(platform, "count(%s)" % n)}
    assert not missing, "read by the rules or dashboards but not produced here: %s" % missing


def test_a_failed_dag_run_fires_its_alert_and_a_successful_one_resolves_it(platform):
    # The dag-processor finds the new file within its 30 s refresh, as a user's DAG is found
    # (`dags reserialize` beside the running dag-processor failed now and then).
    bearer = token(platform)
    add_dag(platform, DAG, DAG_SOURCE, bearer)
    started = time.monotonic()
    assert run_dag(platform, DAG, bearer, {"fail": True})["state"] == "failed"
    wait_for("AirflowDagRunFailed firing", lambda: firing(platform, "AirflowDagRunFailed", dag_id=DAG), 60)
    fired = time.monotonic() - started
    assert run_dag(platform, DAG, bearer)["state"] == "success"
    wait_for("AirflowDagRunFailed resolving",
             lambda: not [a for a in alerts(platform, "AirflowDagRunFailed") if dict(a)["dag_id"] == DAG], 60)
    print("\nfailed DAG run to firing alert: %.1f s; to resolved: %.1f s" % (fired, time.monotonic() - started))


def pg_ctl(platform, *args):
    data = platform.home / "data" / "postgres"
    config = platform.home / "config" / "postgres"
    return subprocess.run(
        ["runuser", "-u", "postgres", "--", str(pg_bindir() / "pg_ctl"), *args, "--pgdata=%s" % data]
        + (["--wait", "--timeout=60", "--log=%s" % (platform.home / "logs" / "postgres" / "server.log"),
            "--options=-c config_file=%s/postgresql.conf -c hba_file=%s/pg_hba.conf" % (config, config)]
           if args[0] == "start" else ["--wait", "--mode=fast"] if args[0] == "stop" else []),
        capture_output=True, text=True, timeout=90)


def test_postgres_down_fires_its_alert_and_resolves_when_it_is_back(platform):
    started = time.monotonic()
    try:
        stopped = pg_ctl(platform, "stop")
        assert stopped.returncode == 0, stopped.stderr
        wait_for("PostgresDown firing", lambda: firing(platform, "PostgresDown", namespace="demo-local"), 60)
        fired = time.monotonic() - started
    finally:
        # The session's platform is shared: PostgreSQL back and Airflow healthy, whatever happened.
        if pg_ctl(platform, "status").returncode != 0:
            back = pg_ctl(platform, "start")
            assert back.returncode == 0, back.stdout + back.stderr
        # Airflow's scheduler, dag-processor and triggerer exit some seconds after losing their
        # database (supervisord would start them again): restart them now, and wait for heartbeats
        # from the new processes.
        restarted = datetime.datetime.now(datetime.timezone.utc)
        subprocess.run(["supervisorctl", "-c", str(platform.home / "config" / "airflow" / "supervisord.conf"),
                        "restart", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer"],
                       capture_output=True, timeout=120)

        def airflow_healthy():
            try:
                health = api(platform, "GET", "/api/v2/monitor/health")[1]
            except (urllib.error.URLError, OSError):
                return None
            parts = ("scheduler", "triggerer", "dag_processor")
            return health["metadatabase"]["status"] == "healthy" and all(
                health[part]["status"] == "healthy"
                and datetime.datetime.fromisoformat(health[part]["latest_%s_heartbeat" % part]) > restarted
                for part in parts)

        wait_for("Airflow healthy again", airflow_healthy, 180)
    wait_for("PostgresDown resolving", lambda: not alerts(platform, "PostgresDown"), 60)
    print("\nPostgreSQL stopped to firing alert: %.1f s; to resolved after restart: %.1f s"
          % (fired, time.monotonic() - started))
