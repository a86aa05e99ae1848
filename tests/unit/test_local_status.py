"""The local_status module's checks against small real servers: what counts as up, and that a
down component is named with the reason."""

import http.server
import json
import os
import threading
import time

import pytest

from ansible_collections.edp.platform.plugins.modules import local_status as ls

HEALTHY = {"metadatabase": {"status": "healthy"},
           "scheduler": {"status": "healthy", "latest_scheduler_heartbeat": "2026-12-02T12:00:00Z"},
           "triggerer": {"status": "healthy", "latest_triggerer_heartbeat": "2026-12-02T12:00:00Z"},
           "dag_processor": {"status": "healthy", "latest_dag_processor_heartbeat": "2026-12-02T12:00:00Z"}}


@pytest.fixture
def server():
    """An HTTP server answering each path with the (status, JSON) set in its `routes`."""
    routes = {}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            status, body = routes.get(self.path, (404, {}))
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    httpd.routes = routes
    httpd.url = "http://127.0.0.1:%d" % httpd.server_port
    yield httpd
    httpd.shutdown()


def states(found):
    return {c["name"]: c["state"] for c in found}


def test_airflow_is_up_when_every_component_is_healthy(server):
    server.routes["/api/v2/monitor/health"] = (200, HEALTHY)
    found = ls.check_airflow(server.url, 2)
    assert set(states(found).values()) == {"up"}
    assert [c["name"] for c in found] == ["airflow-api-server", "airflow-metadatabase", "airflow-scheduler",
                                          "airflow-triggerer", "airflow-dag-processor"]
    assert found[2]["detail"] == "healthy, last heartbeat 2026-12-02T12:00:00Z"


def test_an_unhealthy_component_is_down_and_the_others_stay_up(server):
    server.routes["/api/v2/monitor/health"] = (200, dict(HEALTHY, triggerer={"status": "unhealthy"}))
    assert states(ls.check_airflow(server.url, 2)) == {
        "airflow-api-server": "up", "airflow-metadatabase": "up", "airflow-scheduler": "up",
        "airflow-triggerer": "down", "airflow-dag-processor": "up"}


def test_no_api_server_makes_every_airflow_component_unknown_and_down(server):
    found = ls.check_airflow(server.url.replace(str(server.server_port), "1"), 2)
    assert set(states(found).values()) == {"down"}
    assert found[0]["detail"].startswith("no answer from http://127.0.0.1:1")


def test_prometheus_names_each_target_that_is_down(server):
    up = {"labels": {"job": "postgres"}, "scrapeUrl": "http://127.0.0.1:9187/metrics", "health": "up"}
    bad = {"labels": {"job": "node"}, "scrapeUrl": "http://127.0.0.1:9100/metrics", "health": "down",
           "lastError": "connection refused"}
    server.routes["/api/v1/targets?state=active"] = (200, {"data": {"activeTargets": [up, bad]}})
    [found] = ls.check_prometheus(server.url, 2)
    assert found == {"name": "prometheus targets", "state": "down",
                     "detail": "1 of 2 down: node http://127.0.0.1:9100/metrics: connection refused"}
    server.routes["/api/v1/targets?state=active"] = (200, {"data": {"activeTargets": [up, dict(bad, health="unknown")]}})
    assert ls.check_prometheus(server.url, 2) == [{"name": "prometheus targets", "state": "pending",
                                                   "detail": "1 of 2 not scraped yet"}]
    server.routes["/api/v1/targets?state=active"] = (200, {"data": {"activeTargets": [up]}})
    assert ls.check_prometheus(server.url, 2) == [{"name": "prometheus targets", "state": "up",
                                                   "detail": "1 targets up"}]


def test_http_is_up_on_2xx_only(server):
    server.routes["/ok"] = (200, {})
    assert ls.check_http("x", server.url + "/ok", 2)["state"] == "up"
    assert ls.check_http("x", server.url + "/missing", 2) == {
        "name": "x", "state": "down", "detail": "404 from %s/missing" % server.url}


def test_no_dump_yet_is_pending_until_the_folder_is_max_age_old(tmp_path):
    now = time.time()
    os.utime(tmp_path, (now - 3600, now - 3600))
    found = ls.check_backups({"path": str(tmp_path), "max_age": "26h"}, now=now)
    assert found["state"] == "pending" and found["detail"].startswith("no dump in %s yet" % tmp_path)
    os.utime(tmp_path, (now - 27 * 3600, now - 27 * 3600))
    assert ls.check_backups({"path": str(tmp_path), "max_age": "26h"}, now=now) == {
        "name": "backups", "state": "down", "detail": "no dump in %s" % tmp_path}


def test_backups_by_the_newest_manifest_and_its_age(tmp_path):
    old = tmp_path / "airflow-20261130T000000Z.dump.manifest.json"
    new = tmp_path / "airflow-20261201T000000Z.dump.manifest.json"
    old.write_text("{}")
    new.write_text("{}")
    now = time.time()
    os.utime(old, (now - 3 * 86400, now - 3 * 86400))
    os.utime(new, (now - 2 * 3600, now - 2 * 3600))
    found = ls.check_backups({"path": str(tmp_path), "max_age": "26h"}, now=now)
    assert found == {"name": "backups", "state": "up", "detail": "newest airflow-20261201T000000Z.dump, 2h old"}
    os.utime(new, (now - 30 * 3600, now - 30 * 3600))
    found = ls.check_backups({"path": str(tmp_path), "max_age": "26h"}, now=now)
    assert found["state"] == "down" and found["detail"].endswith("older than 26h")


def test_a_closed_postgres_port_is_down():
    found = ls.check_postgres({"host": "127.0.0.1", "port": 1}, 2)
    assert found["state"] == "down" and found["detail"].startswith("not accepting connections on 127.0.0.1:1")


def test_a_supervisor_that_does_not_run_is_down(tmp_path):
    conf = tmp_path / "supervisord.conf"
    conf.write_text("[supervisorctl]\nserverurl=unix://%s/none.sock\n" % tmp_path)
    [found] = ls.check_supervisor(str(conf), 2)
    assert found["name"] == "supervisord" and found["state"] == "down"


def params(**given):
    return dict({"postgres": None, "airflow_url": None, "supervisor_config": None, "http": {},
                 "prometheus_url": None, "backups": None, "cron": False, "timeout": 2}, **given)


def test_the_wait_asks_again_until_a_starting_component_is_healthy(server):
    answers = iter([(503, {}), (200, dict(HEALTHY, scheduler={"status": "unhealthy"})), (200, HEALTHY)])
    slept = []

    def sleep(seconds):
        slept.append(seconds)
        server.routes["/api/v2/monitor/health"] = next(answers)

    sleep(0)
    found = ls.wait_until_up(params(airflow_url=server.url), 60, sleep=sleep)
    assert set(states(found).values()) == {"up"}
    assert slept == [0, 1, 1], "asked three times, a second apart"


def test_the_wait_ends_at_its_deadline_with_what_is_still_down(server):
    server.routes["/api/v2/monitor/health"] = (200, dict(HEALTHY, triggerer={"status": "unhealthy"}))
    now = [0.0]

    def sleep(seconds):
        now[0] += seconds

    found = ls.wait_until_up(params(airflow_url=server.url), 5, clock=lambda: now[0], sleep=sleep)
    assert now[0] == 5, "it stopped asking at the deadline"
    assert ls.not_up(found) == [{"name": "airflow-triggerer", "state": "down", "detail": "unhealthy"}]
