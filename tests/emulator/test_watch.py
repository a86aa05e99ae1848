"""?watch=1 streams: initial ADDED events, then changes, until timeoutSeconds."""

import http.client
import json
import threading
import time
import urllib.parse

import pytest

from support import configmap

CM = "/api/v1/namespaces/default/configmaps"


def open_watch(emu, query):
    url = urllib.parse.urlsplit(emu.url)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
    conn.request("GET", f"{CM}?{urllib.parse.urlencode({'watch': '1', **query})}")
    resp = conn.getresponse()
    assert resp.status == 200
    return conn, resp


def read_events(resp, count):
    events = []
    while len(events) < count:
        line = resp.readline()
        if not line:
            break
        events.append(json.loads(line))
    return events


def test_watch_sends_existing_objects_then_changes(http, emu):
    http.post(CM, configmap("before"))
    conn, resp = open_watch(emu, {"timeoutSeconds": "5"})
    try:
        assert [(e["type"], e["object"]["metadata"]["name"]) for e in read_events(resp, 1)] == [("ADDED", "before")]
        http.post(CM, configmap("after"))
        http.patch(f"{CM}/after", {"data": {"k": "2"}}, "application/merge-patch+json")
        http.delete(f"{CM}/before")
        events = [(e["type"], e["object"]["metadata"]["name"]) for e in read_events(resp, 3)]
        assert events == [("ADDED", "after"), ("MODIFIED", "after"), ("DELETED", "before")]
    finally:
        conn.close()


def test_watch_from_resource_version_replays_only_later_changes(http, emu):
    rv = http.post(CM, configmap("a")).body["metadata"]["resourceVersion"]
    http.post(CM, configmap("b"))
    conn, resp = open_watch(emu, {"resourceVersion": rv, "timeoutSeconds": "5"})
    try:
        assert [e["object"]["metadata"]["name"] for e in read_events(resp, 1)] == ["b"]
    finally:
        conn.close()


def test_watch_filters_by_field_selector_and_ends_at_timeout(http, emu):
    http.post(CM, configmap("a"))
    http.post(CM, configmap("b"))
    start = time.monotonic()
    conn, resp = open_watch(emu, {"fieldSelector": "metadata.name=b", "timeoutSeconds": "1"})
    try:
        events = read_events(resp, 10)  # returns when the server ends the stream
    finally:
        conn.close()
    assert [e["object"]["metadata"]["name"] for e in events] == ["b"]
    assert 0.9 <= time.monotonic() - start < 5


def test_stopping_the_emulator_ends_open_watches(emu):
    conn, resp = open_watch(emu, {"timeoutSeconds": "60"})
    done = threading.Event()

    def drain():
        resp.read()
        done.set()

    threading.Thread(target=drain, daemon=True).start()
    emu.store.close()
    assert done.wait(5)
    conn.close()


def test_kubernetes_python_client_watch_and_crud(emu, tmp_path):
    kubernetes = pytest.importorskip("kubernetes")
    from kubernetes import client, config, watch

    kubeconfig = emu.write_kubeconfig(tmp_path / "kubeconfig")
    api_client = config.new_client_from_config(str(kubeconfig))
    core = client.CoreV1Api(api_client)
    core.create_namespaced_config_map("default", client.V1ConfigMap(metadata=client.V1ObjectMeta(name="a")))
    with pytest.raises(kubernetes.client.exceptions.ApiException) as err:
        core.read_namespaced_config_map("missing", "default")
    assert err.value.status == 404
    events = list(watch.Watch().stream(core.list_namespaced_config_map, "default", timeout_seconds=1))
    assert [(e["type"], e["object"].metadata.name) for e in events] == [("ADDED", "a")]
