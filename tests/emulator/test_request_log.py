"""The request log and dryRun=All."""

import json
import urllib.request

from kube_emulator import Emulator
from support import Http, configmap, deployment

CM = "/api/v1/namespaces/default/configmaps"


def test_request_log_records_reads_and_writes(http, emu):
    emu.reset_requests()
    http.post(CM, configmap("a"))
    http.get(f"{CM}/a")
    http.get(f"{CM}/missing")
    http.patch(f"{CM}/a", {"data": {"k": "2"}}, "application/merge-patch+json", query={"fieldManager": "t"})
    log = emu.requests()
    assert [(e["method"], e["path"], e["status"], e["write"]) for e in log] == [
        ("POST", CM, 201, True), ("GET", f"{CM}/a", 200, False), ("GET", f"{CM}/missing", 404, False),
        ("PATCH", f"{CM}/a", 200, True)]
    assert log[3]["query"] == {"fieldManager": "t"}
    assert log[3]["content_type"] == "application/merge-patch+json"
    assert set(log[0]) == {"method", "path", "query", "status", "write", "dry_run", "content_type"}
    assert [e["path"] for e in emu.writes()] == [CM, f"{CM}/a"]


def test_failed_writes_are_still_writes(http, emu):
    http.post(CM, configmap("a"))
    emu.reset_requests()
    http.post(CM, configmap("a"))  # 409
    assert [(e["status"], e["write"]) for e in emu.writes()] == [(409, True)]


def test_emulator_endpoints_serve_and_reset_the_log_without_logging_themselves(http, emu):
    http.get("/version")
    with urllib.request.urlopen(f"{emu.url}/_emulator/requests") as resp:
        assert [e["path"] for e in json.load(resp)] == ["/version"]
    req = urllib.request.Request(f"{emu.url}/_emulator/requests", method="DELETE")
    urllib.request.urlopen(req).close()
    assert emu.requests() == []


def test_request_log_file_gets_one_json_line_per_request(tmp_path):
    log = tmp_path / "requests.jsonl"
    with Emulator(request_log=str(log)) as emu:
        Http(emu.url).get("/api")
        Http(emu.url).post(CM, configmap("a"))
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert [(e["method"], e["path"]) for e in lines] == [("GET", "/api"), ("POST", CM)]


def test_dry_run_create_patch_and_delete_store_nothing_and_are_not_writes(http, emu):
    dep_path = "/apis/apps/v1/namespaces/default/deployments"
    dry = {"dryRun": "All"}
    reply = http.post(dep_path, deployment(), query=dry)
    assert reply.status == 201 and reply.body["status"]["readyReplicas"] == 2  # the would-be result
    assert emu.get_object("apps/v1", "Deployment", "web", "default") is None

    real = http.post(dep_path, deployment()).body
    emu.reset_requests()
    patched = http.patch(f"{dep_path}/web", {"spec": {"replicas": 7}}, "application/merge-patch+json", query=dry)
    assert patched.status == 200 and patched.body["spec"]["replicas"] == 7
    replaced = http.put(f"{dep_path}/web", deployment(replicas=8), query=dry)
    assert replaced.status == 200 and replaced.body["spec"]["replicas"] == 8
    assert http.delete(f"{dep_path}/web", query=dry).status == 200
    assert emu.get_object("apps/v1", "Deployment", "web", "default") == real
    assert emu.writes() == []
    assert [e["dry_run"] for e in emu.requests()] == [True, True, True]


def test_dry_run_still_validates(http, emu):
    reply = http.post(CM, configmap("Bad_Name"), query={"dryRun": "All"})
    assert reply.status == 422


def test_dry_run_in_delete_options_body(http, emu):
    http.post(CM, configmap("a"))
    emu.reset_requests()
    reply = http.request("DELETE", f"{CM}/a", {"kind": "DeleteOptions", "apiVersion": "v1", "dryRun": ["All"]})
    assert reply.status == 200
    assert emu.get_object("v1", "ConfigMap", "a", "default") is not None
    assert emu.requests()[0]["dry_run"] is True and emu.writes() == []
