"""Running DAGs on the local platform through Airflow's REST API, for the tests that need a DAG
run end to end (test_monitoring_local.py, test_pgbouncer_local.py). Patient timeouts: a busy
2-core machine answers slowly."""

import time
import urllib.error


def wait_for(what, check, timeout):
    """``check()``'s first true value, asked every second; fails naming ``what`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, "%s did not happen within %d s" % (what, timeout)
        time.sleep(1)


def api(platform, method, path, body=None, token=None):
    return platform.api(method, path, body, token=token, timeout=60)


def token(platform):
    """The platform admin's bearer token."""
    status, body = api(platform, "POST", "/auth/token",
                       {"username": "admin", "password": platform.secret("airflow-admin-password")})
    assert status == 201
    return body["access_token"]


def add_dag(platform, dag_id, source, bearer):
    """Write a DAG file into the tenant's dags folder and wait until Airflow lists it, unpaused."""
    (platform.home / "dags" / (dag_id + ".py")).write_text(source)

    def listed():
        try:
            return api(platform, "GET", "/api/v2/dags/" + dag_id, token=bearer)[1]
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                return None
            raise
    dag = wait_for("Airflow listing %s" % dag_id, listed, 120)
    if dag["is_paused"]:
        api(platform, "PATCH", "/api/v2/dags/" + dag_id, {"is_paused": False}, token=bearer)


def trigger(platform, dag_id, bearer, conf=None):
    """A new run of ``dag_id``; its path in the REST API."""
    status, run = api(platform, "POST", "/api/v2/dags/%s/dagRuns" % dag_id, {"logical_date": None, "conf": conf or {}},
                      token=bearer)
    assert status == 200, run
    return "/api/v2/dags/%s/dagRuns/%s" % (dag_id, run["dag_run_id"])


def finished(platform, path, bearer, timeout=240):
    """The run at ``path`` once it succeeded or failed."""
    def done():
        try:
            state = api(platform, "GET", path, token=bearer)[1]
        except (TimeoutError, urllib.error.URLError):
            return None  # a busy api-server: ask again
        return state if state["state"] in ("success", "failed") else None

    return wait_for("run %s finishing" % path.rpartition("/")[2], done, timeout)


def run_dag(platform, dag_id, bearer, conf=None):
    """Trigger a run and wait for its end."""
    return finished(platform, trigger(platform, dag_id, bearer, conf), bearer)
