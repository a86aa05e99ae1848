"""Behaviours of the k8s_apply action that site.yml does not exercise on its own."""

import json
import threading
import time

from conftest import failure_messages


def play(tmp_path, objects, **options):
    """A playbook with one k8s_apply task on localhost."""
    task = dict({"objects": objects, "component": "probe", "tenant": "probe"}, **options)
    path = tmp_path / "apply.yml"
    path.write_text(json.dumps([{"hosts": "localhost", "gather_facts": False, "tasks": [
        {"name": "apply", "edp.platform.k8s_apply": task}]}]))
    return str(path)


NS = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "probe"}}


def statefulset(annotations=None):
    return {"apiVersion": "apps/v1", "kind": "StatefulSet",
            "metadata": {"name": "db", "namespace": "probe", "annotations": annotations or {}},
            "spec": {"serviceName": "db", "replicas": 1, "selector": {"matchLabels": {"app": "db"}},
                     "template": {"metadata": {"labels": {"app": "db"}},
                                  "spec": {"containers": [{"name": "db", "image": "postgres:15"}]}}}}


def run(ansible, tmp_path, objects, **options):
    return ansible.playbook(play(tmp_path, objects, **options), "local", vault=False)


def test_wait_returns_once_workloads_are_ready(ansible, emulator, tmp_path):
    result = run(ansible, tmp_path, [NS, statefulset()], wait=True, wait_timeout=30)
    assert result.rc == 0, failure_messages(result)


def test_wait_gives_up_naming_the_workload_that_is_not_ready(ansible, emulator, tmp_path):
    result = run(ansible, tmp_path, [NS, statefulset({"emulator.edp.platform/ready": "false"})],
                 wait=True, wait_timeout=2)
    assert result.rc != 0
    assert "StatefulSet probe/db is not ready after 2 s" in failure_messages(result)


def deployment():
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "probe"},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}},
                     "template": {"metadata": {"labels": {"app": "web"}},
                                  "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]}}}}


def job():
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "migrate", "namespace": "probe"},
            "spec": {"backoffLimit": 1, "template": {"spec": {
                "restartPolicy": "Never", "containers": [{"name": "migrate", "image": "busybox:1.36"}]}}}}


DEPLOYMENT = "/apis/apps/v1/namespaces/probe/deployments/web"


def polls(emulator, path):
    return [r for r in emulator.requests() if r["method"] == "GET" and r["path"] == path]


def test_wait_keeps_polling_until_the_workload_is_ready(ansible, emulator, tmp_path):
    """The run cannot end while the Deployment is held unready: it is still running after the
    wait has polled twice, and ends (successfully) only once the emulator releases it."""
    emulator.hold_workloads()  # until released
    outcome = {}
    runner = threading.Thread(target=lambda: outcome.update(
        run=run(ansible, tmp_path, [NS, deployment()], wait=True, wait_timeout=300)))
    runner.start()
    try:
        deadline = time.monotonic() + 120  # a safety net for a broken wait, not a measurement
        while len(polls(emulator, DEPLOYMENT)) < 2 and runner.is_alive() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert runner.is_alive(), "the run ended while the Deployment was not ready: %s" % (
            failure_messages(outcome["run"]) if "run" in outcome else "no result")
        assert len(polls(emulator, DEPLOYMENT)) >= 2, "the wait did not poll the Deployment twice in 120 s"
    finally:
        emulator.release_workloads()
        runner.join(timeout=600)
    assert outcome["run"].rc == 0, failure_messages(outcome["run"])
    [apply] = outcome["run"].task_results("apply").values()
    assert apply["counts"] == {"created": 2}


def test_wait_gives_up_naming_a_deployment_held_unready(ansible, emulator, tmp_path):
    emulator.hold_workloads()
    result = run(ansible, tmp_path, [NS, deployment()], wait=True, wait_timeout=2)
    assert result.rc != 0
    assert "Deployment probe/web is not ready after 2 s (0 of 1 ready)" in failure_messages(result)
    [apply] = result.task_results("apply").values()
    assert [(o["kind"], o["action"]) for o in apply["objects"]] == [("Namespace", "created"),
                                                                    ("Deployment", "created")]


def test_a_failed_job_fails_the_run_saying_why(ansible, emulator, tmp_path):
    emulator.fail_jobs()
    result = run(ansible, tmp_path, [NS, job()], wait=True, wait_timeout=300)
    assert result.rc != 0
    assert ("Job probe/migrate failed: BackoffLimitExceeded: Job has reached the specified backoff limit"
            in failure_messages(result))
    assert len(polls(emulator, "/apis/batch/v1/namespaces/probe/jobs/migrate")) == 1  # no waiting on it


def test_a_custom_resource_without_its_crd_is_skipped_not_failed(ansible, emulator, tmp_path):
    widget = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w", "namespace": "probe"}}
    result = run(ansible, tmp_path, [NS, widget])
    assert result.rc == 0, failure_messages(result)
    [apply] = result.task_results("apply").values()
    assert {"kind": "Widget", "name": "w", "namespace": "probe", "action": "skipped",
            "reason": "example.com/v1/Widget is not served by the cluster (CRD not installed)"} in apply["objects"]


def test_an_object_rendered_twice_fails_before_any_request(ansible, emulator, tmp_path):
    result = run(ansible, tmp_path, [NS, NS])
    assert result.rc != 0 and "Namespace probe is rendered twice" in failure_messages(result)
    assert emulator.requests() == []


def test_a_namespaced_object_without_namespace_fails_before_any_request(ansible, emulator, tmp_path):
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}
    result = run(ansible, tmp_path, [cm])
    assert result.rc != 0 and "ConfigMap c has no metadata.namespace" in failure_messages(result)
    assert emulator.requests() == []


def test_an_invalid_object_is_refused_by_the_server_naming_the_field(ansible, emulator, tmp_path):
    bad = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "probe"},
           "data": {"a": "1"}, "dta": {"typo": "x"}}
    result = run(ansible, tmp_path, [NS, bad])
    assert result.rc != 0
    message = failure_messages(result)
    assert "422" in message and "dta" in message and "created Namespace probe" in message


def configmap(name):
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "probe"},
            "data": {"a": "1"}}


def test_a_kind_no_longer_rendered_at_all_is_still_pruned(ansible, emulator, tmp_path):
    assert run(ansible, tmp_path, [NS, configmap("gone")]).rc == 0
    result = run(ansible, tmp_path, [NS])
    assert result.rc == 0, failure_messages(result)
    assert emulator.get_object("v1", "ConfigMap", "gone", "probe") is None


def test_without_the_record_every_platform_kind_is_searched(ansible, emulator, tmp_path):
    import urllib.request

    assert run(ansible, tmp_path, [NS, configmap("gone")]).rc == 0
    req = urllib.request.Request(emulator.url + "/api/v1/namespaces/probe/configmaps/edp-platform-applied",
                                 method="DELETE")
    urllib.request.urlopen(req).read()
    result = run(ansible, tmp_path, [NS, configmap("kept")])
    assert result.rc == 0, failure_messages(result)
    assert emulator.get_object("v1", "ConfigMap", "gone", "probe") is None
    record = emulator.get_object("v1", "ConfigMap", "edp-platform-applied", "probe")
    assert record["data"]["kinds.json"] == '{"probe": ["v1/ConfigMap"]}'  # written again


def test_a_rerun_reads_only_the_kinds_it_applied(ansible, emulator, tmp_path):
    assert run(ansible, tmp_path, [NS, configmap("kept")]).rc == 0
    emulator.reset_requests()
    assert run(ansible, tmp_path, [NS, configmap("kept")]).rc == 0
    lists = sorted(r["path"] for r in emulator.requests()
                   if r["method"] == "GET" and r["path"].split("/")[-2] == "probe")  # .../namespaces/probe/<kind>
    assert lists == ["/api/v1/namespaces/probe/configmaps"]
    assert emulator.writes() == []
