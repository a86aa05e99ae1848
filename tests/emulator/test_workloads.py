"""Workloads held unready, Jobs that fail, and per-request latency: what a wait and a bench need.

Time is a fake clock the tests move on, so nothing here waits or depends on the machine's speed.
"""

import math

import pytest

from kube_emulator import Emulator
from kube_emulator.__main__ import _seconds
from support import Http, deployment, statefulset

DEP = "/apis/apps/v1/namespaces/default/deployments"
STS = "/apis/apps/v1/namespaces/default/statefulsets"
JOBS = "/apis/batch/v1/namespaces/default/jobs"
MERGE = "application/merge-patch+json"


def job(name="migrate", backoff_limit=None):
    spec = {"template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox:1"}]}}}
    if backoff_limit is not None:
        spec["backoffLimit"] = backoff_limit
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name}, "spec": spec}


def conditions(obj):
    return {c["type"]: c for c in (obj.get("status") or {}).get("conditions") or []}


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def held(clock):
    """An emulator whose workloads stay unready for 30 (fake) seconds after each spec change."""
    with Emulator(hold_workloads=30, clock=clock) as emulator:
        yield emulator


def test_a_held_deployment_becomes_ready_only_when_its_time_is_up(held, clock):
    http = Http(held.url)
    created = http.post(DEP, deployment(replicas=2)).body
    assert "readyReplicas" not in created["status"]
    clock.now += 29.9
    assert "readyReplicas" not in http.get(f"{DEP}/web").body["status"]
    clock.now += 0.1
    ready = http.get(f"{DEP}/web").body
    assert ready["status"]["readyReplicas"] == 2
    assert conditions(ready)["Available"]["status"] == "True"
    # Its controller wrote the new status: a new resourceVersion, no request of ours in the log.
    assert int(ready["metadata"]["resourceVersion"]) > int(created["metadata"]["resourceVersion"])
    assert [r["method"] for r in held.writes()] == ["POST"]


def test_the_hold_starts_again_with_each_change_of_the_spec(held, clock):
    http = Http(held.url)
    http.post(DEP, deployment())
    clock.now += 30
    assert http.get(f"{DEP}/web").body["status"]["readyReplicas"] == 2
    rolled = http.patch(f"{DEP}/web", {"spec": {"replicas": 3}}, MERGE).body
    assert "readyReplicas" not in rolled["status"]
    clock.now += 30
    assert http.get(f"{DEP}/web").body["status"]["readyReplicas"] == 3


def test_a_label_change_does_not_start_the_hold_again(held, clock):
    http = Http(held.url)
    http.post(DEP, deployment())
    clock.now += 30
    relabelled = http.patch(f"{DEP}/web", {"metadata": {"labels": {"team": "a"}}}, MERGE).body
    assert relabelled["status"]["readyReplicas"] == 2


def test_statefulsets_and_jobs_are_held_too(held, clock):
    http = Http(held.url)
    assert "readyReplicas" not in http.post(STS, statefulset()).body["status"]
    running = http.post(JOBS, job()).body["status"]
    assert running["active"] == 1 and "Complete" not in conditions({"status": running})
    clock.now += 30
    assert http.get(f"{STS}/db").body["status"]["readyReplicas"] == 1
    assert conditions(http.get(f"{JOBS}/migrate").body)["Complete"]["status"] == "True"


def test_held_forever_until_released(clock):
    with Emulator(clock=clock) as emu:
        emu.hold_workloads(math.inf)
        http = Http(emu.url)
        http.post(DEP, deployment())
        clock.now += 10 ** 6
        assert "readyReplicas" not in http.get(f"{DEP}/web").body["status"]
        emu.release_workloads()
        assert emu.get_object("apps/v1", "Deployment", "web", "default")["status"]["readyReplicas"] == 2
        assert http.get(f"{DEP}/web").body["status"]["readyReplicas"] == 2


def test_a_deleted_held_workload_is_forgotten(held, clock):
    http = Http(held.url)
    http.post(DEP, deployment())
    http.delete(f"{DEP}/web")
    clock.now += 30
    assert http.get(f"{DEP}/web").status == 404


def test_failing_jobs_report_backoff_limit_exceeded(emu):
    emu.fail_jobs()
    status = Http(emu.url).post(JOBS, job(backoff_limit=2)).body["status"]
    failed = conditions({"status": status})["Failed"]
    assert (failed["status"], failed["reason"]) == ("True", "BackoffLimitExceeded")
    assert failed["message"] == "Job has reached the specified backoff limit"
    assert status["failed"] == 3 and "Complete" not in conditions({"status": status})
    assert "succeeded" not in status and "completionTime" not in status


def test_failing_jobs_leave_deployments_alone(emu):
    emu.fail_jobs()
    assert Http(emu.url).post(DEP, deployment()).body["status"]["readyReplicas"] == 2


def test_every_api_request_is_delayed_by_the_latency(tmp_path):
    delays = []
    with Emulator(latency_ms=5, sleep=delays.append) as emu:
        http = Http(emu.url)
        http.get("/version")
        http.get("/api/v1/namespaces/default/configmaps")
        http.get("/_emulator/requests")  # the emulator's own endpoint is not an API request
        assert delays == [0.005, 0.005]
        emu.latency_ms = 0
        http.get("/version")
        assert delays == [0.005, 0.005]


def test_without_options_workloads_are_ready_at_once_and_requests_not_delayed(clock):
    delays = []
    with Emulator(clock=clock, sleep=delays.append) as emu:
        assert Http(emu.url).post(DEP, deployment()).body["status"]["readyReplicas"] == 2
        assert delays == []


@pytest.mark.parametrize("text, seconds", [("forever", math.inf), ("2.5", 2.5), ("0", 0.0)])
def test_the_command_line_takes_seconds_or_forever(text, seconds):
    assert _seconds(text) == seconds
