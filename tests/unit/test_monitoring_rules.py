"""The monitoring role's alert rules, statsd mapping, postgres_exporter queries and dashboards,
checked offline with the real promtool (Prometheus 2.42 of Debian 12, the local target's):
the rules load; every alert fires on a failure series and stays silent on a healthy one
(tests/unit/monitoring/*.test.yml, `promtool test rules`); every dashboard parses and each panel
query is valid PromQL; every metric a rule or a panel reads is one an exporter produces: Airflow's
through the statsd-exporter's mapping from a metric Airflow 3.3 documents, the others from the
exporters' metric lists below or from the role's own queries and textfile."""

import functools
import json
import pathlib
import re
import shutil
import subprocess

import jinja2
import pytest
import yaml

from lib import promql
from lib.promql import metric_names

ROOT = pathlib.Path(__file__).resolve().parents[2]
ROLE = ROOT / "roles" / "monitoring"
CASES = pathlib.Path(__file__).resolve().parent / "monitoring"
TARGETS = {"kubernetes": ("finance", "finance-dev"), "local": ("demo", "demo-local")}
DASHBOARDS = sorted((ROLE / "files" / "dashboards").glob("*.json"))

# Airflow 3.3's metrics that the mapping maps, as Airflow's documentation lists them (apache/airflow,
# airflow-core/docs/administration-and-deployment/logging-monitoring/metric_tables.rst, generated from
# airflow-core/src/airflow/metrics/metrics_template.yaml): the name as sent over plain statsd (the
# legacy name where the metric has dimensions, which plain statsd can only carry in the name), its
# type, and the new name without dimensions that Airflow sends beside a legacy one.
AIRFLOW_DOCUMENTED = [
    ("scheduler_heartbeat", "counter"),
    ("triggerer_heartbeat", "counter"),
    ("dag_processor_heartbeat", "counter"),
    ("ti_failures", "counter"),
    ("ti_successes", "counter"),
    ("ti.finish", "counter"), ("ti.finish.{dag_id}.{task_id}.{state}", "counter"),
    ("ti.start", "counter"), ("ti.start.{dag_id}.{task_id}", "counter"),
    ("dagrun.duration.success", "timer"), ("dagrun.duration.success.{dag_id}", "timer"),
    ("dagrun.duration.failed", "timer"), ("dagrun.duration.failed.{dag_id}", "timer"),
    ("dagrun.schedule_delay", "timer"), ("dagrun.schedule_delay.{dag_id}", "timer"),
    ("task.duration", "timer"), ("dag.{dag_id}.{task_id}.duration", "timer"),
    ("dag_processing.import_errors", "gauge"),
    ("dag_processing.total_parse_time", "gauge"),
    ("dagbag_size", "gauge"),
    ("dag_processing.last_duration", "timer"), ("dag_processing.last_duration.{bundle_name}.{file_name}", "timer"),
    ("scheduler.tasks.starving", "gauge"),
    ("scheduler.tasks.executable", "gauge"),
    ("scheduler.dagruns.running", "gauge"),
    ("scheduler.scheduler_loop_duration", "timer"),
    ("executor.open_slots", "gauge"),
    ("executor.queued_tasks", "gauge"),
    ("executor.running_tasks", "gauge"),
    ("pool.open_slots", "gauge"), ("pool.open_slots.{pool_name}", "gauge"),
    ("pool.queued_slots", "gauge"), ("pool.queued_slots.{pool_name}", "gauge"),
    ("pool.running_slots", "gauge"), ("pool.running_slots.{pool_name}", "gauge"),
    ("pool.deferred_slots", "gauge"), ("pool.deferred_slots.{pool_name}", "gauge"),
    ("pool.scheduled_slots", "gauge"), ("pool.scheduled_slots.{pool_name}", "gauge"),
    ("pool.starving_tasks", "gauge"), ("pool.starving_tasks.{pool_name}", "gauge"),
    ("triggers.running", "gauge"), ("triggers.running.{hostname}", "gauge"),
]
# The exporters' metrics the rules and dashboards read, from each project's documentation or its
# /metrics output (the local target's are also checked against the real exporters in
# tests/integration/test_monitoring_local.py).
EXPORTER_METRICS = {
    # Prometheus itself.
    "prometheus": {"up", "ALERTS"},
    # kube-state-metrics v2 (docs/metrics/workload/*.md).
    "kube-state-metrics": {
        "kube_pod_container_status_waiting_reason", "kube_pod_status_phase", "kube_pod_container_resource_limits",
        "kube_pod_container_info", "kube_cronjob_created", "kube_cronjob_status_last_successful_time",
        "kube_job_status_failed", "kube_job_status_start_time"},
    # The kubelet's cAdvisor and volume stats.
    "kubelet": {"container_cpu_usage_seconds_total", "container_memory_working_set_bytes",
                "kubelet_volume_stats_used_bytes", "kubelet_volume_stats_capacity_bytes"},
    # postgres_exporter 0.11 (Debian 12) and 0.17 (the image): its default collectors.
    "postgres_exporter": {"pg_up", "pg_stat_activity_count", "pg_settings_max_connections", "pg_database_size_bytes",
                          "pg_stat_database_xact_commit", "pg_stat_database_xact_rollback",
                          "pg_stat_database_deadlocks"},
    # node_exporter 1.5 and blackbox_exporter 0.23 (the local target).
    "node_exporter": {"node_filesystem_avail_bytes", "node_filesystem_size_bytes", "node_memory_MemAvailable_bytes",
                      "node_memory_MemTotal_bytes"},
    "blackbox_exporter": {"probe_success"},
    # Spark's executor metrics at the driver's /metrics/executors/prometheus (spark.ui.prometheus.enabled).
    "spark": {"metrics_executor_activeTasks", "metrics_executor_failedTasks_total",
              "metrics_executor_completedTasks_total", "metrics_executor_memoryUsed_bytes",
              "metrics_executor_totalGCTime_seconds_total"},
}
def variables(target):
    tenant, namespace = TARGETS[target]
    values = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())
    values.update(edp_target=target, edp_tenant=tenant, edp_namespace=namespace)
    return values


@functools.lru_cache(maxsize=None)
def render(template, target):
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(ROLE / "templates")), keep_trailing_newline=True,
                             undefined=jinja2.StrictUndefined)
    return env.get_template(template).render(**variables(target))


def rules(target):
    return yaml.safe_load(render("alert-rules.yml.j2", target))


def alerts(target):
    return [rule for group in rules(target)["groups"] for rule in group["rules"] if "alert" in rule]


def promtool(*args, cwd=None):
    return subprocess.run(["promtool", *args], capture_output=True, text=True, cwd=cwd, timeout=120)


def panel_queries(board):
    """Every panel's expressions, with the dashboard variables given values Prometheus accepts."""
    return promql.panel_queries(board, "finance-dev")


# -- the statsd-exporter's mapping ---------------------------------------------------------------

@functools.lru_cache(maxsize=None)
def mapping():
    return yaml.safe_load((ROLE / "files" / "statsd-mapping.yml").read_text())["mappings"]


def glob_regex(glob):
    return re.compile("^" + re.escape(glob).replace(r"\*", "([^.]+)") + "$")


def mapped(statsd_name):
    """What the statsd-exporter makes of a statsd name: (mapping, prometheus name, labels) or None
    when no mapping matches (its default name) - the first matching mapping, as it does."""
    for entry in mapping():
        match = glob_regex(entry["match"]).match(statsd_name)
        if match:
            def expand(text):
                return re.sub(r"\$\{?(\d+)\}?", lambda m: match.group(int(m.group(1))), text)
            if entry.get("action") == "drop":
                return entry, None, None
            return entry, expand(entry["name"]), {k: expand(v) for k, v in (entry.get("labels") or {}).items()}
    return None


def produced_by_mapping():
    """{prometheus name: set of label-name tuples} from every documented metric."""
    produced = {}
    for name, kind in AIRFLOW_DOCUMENTED:
        statsd = "airflow." + re.sub(r"\{[a-z_]+\}", "sample", name)
        result = mapped(statsd)
        if result is None or result[1] is None:
            continue
        _, metric, labels = result
        suffixes = ["_bucket", "_sum", "_count"] if kind == "timer" else [""]
        for suffix in suffixes:
            produced.setdefault(metric + suffix, set()).add(tuple(sorted(labels)))
    return produced


def own_metrics():
    """The role's own metrics: postgres_exporter's queries (<query>_<gauge column>) and the backup
    textfile (edp-backup-metrics.sh)."""
    queries = yaml.safe_load(render("postgres-exporter-queries.yml.j2", "local"))
    names = {"%s_%s" % (query, column) for query, spec in queries.items() for metric in spec["metrics"]
             for column, usage in metric.items() if usage["usage"] in ("GAUGE", "COUNTER")}
    script = (ROLE / "files" / "edp-backup-metrics.sh").read_text()
    return names | set(re.findall(r"^\s*echo \"(edp_backup_[a-z_]+)\{", script, re.M))


# -- tests -----------------------------------------------------------------------------------------

@pytest.fixture(scope="module", autouse=True)
def needs_promtool():
    if not shutil.which("promtool"):
        pytest.fail("promtool is missing: install Debian's prometheus package (.ci/run does)")


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_the_rules_pass_promtool_check(target, tmp_path):
    path = tmp_path / "rules.yml"
    path.write_text(render("alert-rules.yml.j2", target))
    result = promtool("check", "rules", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
    print("%s: %s" % (target, result.stdout.strip().splitlines()[-1]))


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_every_alert_has_a_firing_and_a_silent_unit_test(target):
    cases = yaml.safe_load((CASES / ("rules-%s.test.yml" % target)).read_text())
    fires, silent = set(), set()
    for case in cases["tests"]:
        for check in case["alert_rule_test"]:
            (fires if check.get("exp_alerts") else silent).add(check["alertname"])
    names = {rule["alert"] for rule in alerts(target)}
    assert not names - fires, "alerts without a case where they fire: %s" % sorted(names - fires)
    assert not names - silent, "alerts without a case where they stay silent: %s" % sorted(names - silent)
    assert not (fires | silent) - names, "cases for alerts the rules lack: %s" % sorted((fires | silent) - names)


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_promtool_unit_tests_pass(target, tmp_path):
    document = rules(target)
    for group in document["groups"]:
        for rule in group["rules"]:
            rule.pop("annotations", None)  # compared word for word by promtool; checked above
    (tmp_path / "rules.yml").write_text(yaml.safe_dump(document))
    shutil.copy(CASES / ("rules-%s.test.yml" % target), tmp_path / "cases.yml")
    result = promtool("test", "rules", "cases.yml", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    cases = yaml.safe_load((tmp_path / "cases.yml").read_text())["tests"]
    print("%s: %d promtool test groups, %d alert checks" % (
        target, len(cases), sum(len(c["alert_rule_test"]) for c in cases)))


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_every_alert_has_a_severity_a_summary_and_a_runbook_entry(target):
    readme = (ROLE / "README.md").read_text()
    for rule in alerts(target):
        name = rule["alert"]
        assert rule["labels"].get("severity") in ("warning", "critical"), name
        assert rule["annotations"].get("summary"), name
        assert rule["annotations"]["runbook_url"].endswith("README.md#" + name.lower()), name
        assert re.search(r"^### %s$" % name, readme, re.M), "no runbook entry '### %s' in the role README" % name
        assert rule["for"] == variables(target)["monitoring_alert_for"], name


@pytest.mark.parametrize("board", DASHBOARDS, ids=lambda p: p.stem)
def test_the_dashboard_parses_and_every_panel_query_is_valid_promql(board, tmp_path):
    data = json.loads(board.read_text())
    assert data["title"] and data["panels"], board.name
    queries = list(panel_queries(data))
    assert queries and all(expr for _, expr in queries), board.name
    # promtool parses each query as a recording rule's expression.
    (tmp_path / "queries.yml").write_text(yaml.safe_dump({"groups": [{"name": board.stem, "rules": [
        {"record": "edp:panel_%d" % index, "expr": expr} for index, (_, expr) in enumerate(queries)]}]}))
    result = promtool("check", "rules", str(tmp_path / "queries.yml"))
    assert result.returncode == 0, result.stdout + result.stderr


def used_metrics():
    """{metric: [where]} of every rule of both targets and every dashboard panel."""
    used = {}
    for target in TARGETS:
        for rule in alerts(target):
            for name in metric_names(rule["expr"]):
                used.setdefault(name, []).append("%s rule %s" % (target, rule["alert"]))
    for board in DASHBOARDS:
        for title, expr in panel_queries(json.loads(board.read_text())):
            for name in metric_names(expr):
                used.setdefault(name, []).append("dashboard %s panel %r" % (board.stem, title))
    return used


def test_every_metric_read_is_produced_by_the_mapping_an_exporter_or_the_roles_queries():
    known = set().union(*EXPORTER_METRICS.values()) | own_metrics() | set(produced_by_mapping())
    unknown = {name: where for name, where in used_metrics().items() if name not in known}
    assert not unknown, "metrics no exporter or mapping produces: %s" % unknown
    airflow = {name for name in used_metrics() if name.startswith("airflow_")}
    assert airflow, "the rules and dashboards read no Airflow statsd metric"
    assert airflow <= set(produced_by_mapping())


def test_the_metric_extraction_finds_what_an_expression_reads():
    assert metric_names('sum by (namespace, le) (rate(a_b{x="y", z=~"w"}[5m])) / on (ns) group_left () c > 0.9'
                        ' or absent(d{e="f"}) * 1e9') == {"a_b", "c", "d"}


def test_the_statsd_mapping_maps_documented_airflow_metrics_and_nothing_else():
    produced = produced_by_mapping()
    # One label set per Prometheus name (the exporter refuses a second).
    assert all(len(label_sets) == 1 for label_sets in produced.values()), produced
    # Every mapping is used by a documented metric: none maps a name Airflow does not send.
    used = set()
    for name, _ in AIRFLOW_DOCUMENTED:
        result = mapped("airflow." + re.sub(r"\{[a-z_]+\}", "sample", name))
        assert result is not None, "documented metric airflow.%s falls to the exporter's default mapping" % name
        used.add(result[0]["match"])
    assert {entry["match"] for entry in mapping()} == used
    # The legacy names become labels.
    assert mapped("airflow.dagrun.duration.failed.etl")[1:] == ("airflow_dagrun_duration", {"state": "failed", "dag_id": "etl"})
    assert mapped("airflow.pool.open_slots.default_pool")[1:] == ("airflow_pool_open_slots", {"pool": "default_pool"})
    assert mapped("airflow.dagrun.duration.failed")[1] is None


def test_the_postgres_exporter_queries_name_their_columns():
    queries = yaml.safe_load(render("postgres-exporter-queries.yml.j2", "kubernetes"))
    for name, spec in queries.items():
        columns = [column for metric in spec["metrics"] for column in metric]
        for column in columns:
            assert re.search(r"\b%s\b" % column, spec["query"]), "%s: column %s is not selected" % (name, column)
