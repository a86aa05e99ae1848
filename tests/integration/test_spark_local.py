"""Spark on the local target, end to end: site.yml -i inventories/local (the session's
local_platform) brings up Java, the pinned pyspark, the History Server under supervisord and the
example DAG; the DAG, triggered through Airflow's REST API, runs Spark in local mode with
SparkSubmitOperator and reaches success; its output matches its input; the History Server's REST
API lists the application as completed."""

import json
import pathlib
import subprocess
import time
import urllib.request

import pytest

from lib.local_platform import listening_addresses

DAG = "edp_spark_example"


@pytest.fixture(scope="module")
def platform(local_platform):
    return local_platform


def token(platform):
    status, body = platform.api("POST", "/auth/token",
                                {"username": "admin", "password": platform.secret("airflow-admin-password")})
    assert status == 201
    return body["access_token"]


def history(platform, path):
    with urllib.request.urlopen("http://127.0.0.1:%d/api/v1%s" % (platform.spark_history_port, path),
                                timeout=10) as reply:
        return json.loads(reply.read())


def task_logs(platform, run_id):
    """The end of every task log of the run, for a failure message."""
    found = []
    for path in sorted((platform.home / "logs" / "airflow").rglob("*.log")):
        if "dag_id=%s" % DAG in str(path) and run_id.replace(":", "") in str(path).replace(":", ""):
            found.append("== %s\n%s" % (path.name, path.read_text(errors="replace")[-3000:]))
    return "\n".join(found) or "(no task logs)"


@pytest.fixture(scope="module")
def pipeline(platform):
    """One run of the example DAG, triggered through the REST API and awaited: (run, seconds
    from trigger to its end)."""
    bearer = token(platform)
    deadline = time.monotonic() + 180
    while True:  # the dag-processor parses the tenant's dags folder every few seconds
        try:
            status, dag = platform.api("GET", "/api/v2/dags/" + DAG, token=bearer)
            break
        except urllib.error.HTTPError as exc:
            if exc.code != 404 or time.monotonic() > deadline:
                raise AssertionError("Airflow never listed the DAG %s (HTTP %d)" % (DAG, exc.code))
            time.sleep(2)
    if dag["is_paused"]:
        platform.api("PATCH", "/api/v2/dags/" + DAG, {"is_paused": False}, token=bearer)
    started = time.monotonic()
    status, run = platform.api("POST", "/api/v2/dags/%s/dagRuns" % DAG, {"logical_date": None}, token=bearer)
    assert status == 200, run
    deadline = started + 600
    while run["state"] not in ("success", "failed"):
        assert time.monotonic() < deadline, "the run did not finish in 600 s: %s" % run
        time.sleep(1)
        _, run = platform.api("GET", "/api/v2/dags/%s/dagRuns/%s" % (DAG, run["dag_run_id"]), token=bearer)
    elapsed = time.monotonic() - started
    print("\nlocal Spark pipeline %s: trigger to %s in %.1f s" % (run["dag_run_id"], run["state"], elapsed))
    return run, elapsed, bearer


def test_the_example_pipeline_reaches_success(platform, pipeline, record_property):
    run, elapsed, bearer = pipeline
    record_property("spark_local_pipeline_seconds", round(elapsed, 1))
    _, tasks = platform.api("GET", "/api/v2/dags/%s/dagRuns/%s/taskInstances" % (DAG, run["dag_run_id"]),
                            token=bearer)
    states = {t["task_id"]: t["state"] for t in tasks["task_instances"]}
    assert run["state"] == "success", "%s\n%s" % (states, task_logs(platform, run["dag_run_id"]))
    assert states == {"make_input": "success", "aggregate": "success", "check_output": "success"}


def test_the_output_matches_the_input(platform, pipeline):
    run, _, bearer = pipeline
    _, xcom = platform.api("GET", "/api/v2/dags/%s/dagRuns/%s/taskInstances/make_input/xcomEntries/return_value"
                           % (DAG, run["dag_run_id"]), token=bearer)
    paths = xcom["value"] if isinstance(xcom["value"], dict) else json.loads(xcom["value"])
    assert paths["input"].startswith(str(platform.home / "data" / "spark" / "example")), paths

    def rows(folder):
        for path in sorted(pathlib.Path(folder).glob("part-*")):
            for line in path.read_text().splitlines():
                if line.strip():
                    yield json.loads(line)

    want = {}
    for row in rows(paths["input"]):
        count, total = want.get(row["key"], (0, 0))
        want[row["key"]] = (count + 1, total + row["value"])
    got = {row["key"]: (row["count"], row["total"]) for row in rows(paths["output"])}
    assert len(want) == 12 and sum(c for c, _ in want.values()) == 20000
    assert got == want


def test_the_history_server_lists_the_application_as_completed(platform, pipeline):
    deadline = time.monotonic() + 60  # it scans the event log folder every 2 s
    while True:
        apps = history(platform, "/applications?status=completed")
        done = [a for a in apps if a["name"] == "edp-spark-example" and all(t["completed"] for t in a["attempts"])]
        if done or time.monotonic() > deadline:
            break
        time.sleep(2)
    assert done, "the History Server lists no completed edp-spark-example: %s" % apps
    assert list((platform.home / "data" / "spark" / "events").iterdir()), "no event log in the tenant's home"
    jobs = history(platform, "/applications/%s/jobs" % done[0]["id"])
    assert jobs and {j["status"] for j in jobs} == {"SUCCEEDED"}


def test_the_history_server_listens_on_this_host_only(platform):
    assert history(platform, "/version")["spark"] == "4.3.0"
    # 0100007F is 127.0.0.1 in the kernel's byte order (tcp6: the IPv4-mapped ::ffff:127.0.0.1).
    assert listening_addresses(platform.spark_history_port) <= {"0100007F", "0000000000000000FFFF00000100007F"}
    assert listening_addresses(platform.spark_history_port)


def test_spark_submit_is_the_tenants_pinned_pyspark_with_its_settings(platform):
    spark_submit = platform.home / "run" / "spark" / "bin" / "spark-submit"
    proc = subprocess.run([str(spark_submit), "--version"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and "version 4.3.0" in proc.stdout + proc.stderr, proc.stdout + proc.stderr
    conf = (platform.home / "config" / "spark" / "spark-defaults.conf").read_text()
    for line in ("spark.sql.adaptive.enabled true", "spark.dynamicAllocation.shuffleTracking.enabled true",
                 "spark.eventLog.dir file://%s/data/spark/events" % platform.home, "spark.ui.prometheus.enabled true",
                 "spark.master local[2]", "spark.driver.bindAddress 127.0.0.1"):
        assert line in conf.splitlines(), line
    env = (platform.home / "config" / "airflow" / "airflow.env").read_text()
    assert "EDP_TARGET='local'" in env and "PATH='%s:" % spark_submit.parent in env


def test_java_is_the_os_packages(platform):
    proc = subprocess.run(["dpkg-query", "--show", "--showformat=${db:Status-Abbrev}", "openjdk-17-jre-headless"],
                          capture_output=True, text=True)
    assert proc.stdout.startswith("ii")
