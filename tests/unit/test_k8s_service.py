"""The apply path's service (module_utils/k8s_service.py), without Ansible.

Each test runs the service's steps with the real REST client against an in-process API
emulator (tests/emulator), whose request log shows what was sent. The wait runs on a fake
clock shared with the emulator's workload holds: the service's sleep moves it on, so a
30-second hold costs no time.
"""

import pytest

from ansible_collections.edp.platform.plugins.module_utils import k8s_objects as ko
from ansible_collections.edp.platform.plugins.module_utils import k8s_service as svc
from ansible_collections.edp.platform.plugins.module_utils.kube import KubeClient, load_config
from kube_emulator import Emulator

NS = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "probe"}}
SETTINGS = svc.Settings(tenant="probe", environment="dev", components=frozenset({"probe"}))


def configmap(name, value="1", namespace="probe"):
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": namespace},
            "data": {"a": value}}


def pvc(name="data"):
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": name, "namespace": "probe"},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}


def deployment(name="web"):
    labels = {"app": name}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": "probe"},
            "spec": {"replicas": 1, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"containers": [{"name": "c", "image": "nginx:1.27"}]}}}}


def job(name="migrate"):
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name, "namespace": "probe"},
            "spec": {"backoffLimit": 1, "template": {"spec": {
                "restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox:1.36"}]}}}}


def desired(*objects, component="probe", tenant="probe"):
    return svc.desired_objects({component: list(objects)}, tenant, "dev")


class Clock:
    """Fake time: the emulator's holds read it, the service's wait sleeps by moving it on."""

    def __init__(self):
        self.now = 5000.0
        self.sleeps = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def emu(clock):
    with Emulator(clock=clock, namespace_deletion_delay=0) as emulator:
        yield emulator


@pytest.fixture
def service(emu, clock, tmp_path):
    client = KubeClient(load_config(str(emu.write_kubeconfig(tmp_path / "kubeconfig"))))
    service = svc.ApplyService(client, sleep=clock.sleep, clock=clock)
    yield service
    service.close()


def converge(service, objects, settings=SETTINGS):
    return svc.converge(service, settings, objects)


def actions(report):
    return {(i["kind"], i["name"]): i["action"] for i in report.objects}


# -- apply -----------------------------------------------------------------------------------
def test_first_apply_creates_and_a_rerun_sends_no_write(service, emu):
    first = converge(service, desired(NS, configmap("c")))
    assert actions(first) == {("Namespace", "probe"): "created", ("ConfigMap", "c"): "created"}
    emu.reset_requests()
    again = converge(service, desired(NS, configmap("c")))
    assert actions(again) == {("Namespace", "probe"): "unchanged", ("ConfigMap", "c"): "unchanged"}
    assert emu.writes() == [], "a rerun with nothing to change wrote: %s" % emu.writes()


def test_a_changed_object_is_updated_and_shown_in_the_diff(service):
    converge(service, desired(NS, configmap("c", "1")))
    report = converge(service, desired(NS, configmap("c", "2")))
    assert actions(report)[("ConfigMap", "c")] == "updated"
    [diff] = report.diffs
    assert diff["before_header"] == "ConfigMap probe/c" and "a: '2'" in diff["after"] and "a: '1'" in diff["before"]


def test_created_is_told_from_the_status_of_the_answer(service, emu):
    """What the server answered (201 Created or 200 OK) says which, not what was read before:
    an object deleted since the live state was read is reported created."""
    converge(service, desired(NS, configmap("c", "1")))
    changed = desired(NS, configmap("c", "2"))
    live = service.live_state(SETTINGS, changed).found
    report = svc.Report()
    service.apply(SETTINGS, changed, live, set(), set(), report)
    assert actions(report)[("ConfigMap", "c")] == "updated"
    service.client.request("DELETE", "/api/v1/namespaces/probe/configmaps/c")
    report = svc.Report()
    service.apply(SETTINGS, changed, live, set(), set(), report)
    assert actions(report)[("ConfigMap", "c")] == "created"


def test_check_mode_writes_nothing_and_reports_what_would_change(service, emu):
    converge(service, desired(NS, configmap("c", "1")))
    emu.reset_requests()
    check = svc.Settings(tenant="probe", environment="dev", components=frozenset({"probe"}), check=True)
    report = converge(service, desired(NS, configmap("c", "2"), configmap("new")), check)
    assert actions(report) == {("Namespace", "probe"): "unchanged", ("ConfigMap", "c"): "updated",
                               ("ConfigMap", "new"): "created"}
    assert emu.writes() == []
    assert emu.get_object("v1", "ConfigMap", "c", "probe")["data"] == {"a": "1"}


def test_a_kind_the_cluster_does_not_serve_is_skipped(service):
    widget = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w", "namespace": "probe"}}
    report = converge(service, desired(NS, widget))
    [skipped] = [i for i in report.objects if i["kind"] == "Widget"]
    assert skipped["action"] == "skipped" and "example.com/v1/Widget is not served" in skipped["reason"]


# -- live state ------------------------------------------------------------------------------
def test_each_kind_is_listed_once_per_namespace(service, emu):
    converge(service, desired(NS, configmap("a"), configmap("b"), deployment()))
    emu.reset_requests()
    state = service.live_state(SETTINGS, desired(NS, configmap("a"), configmap("b"), deployment()))
    lists = sorted(r["path"] for r in emu.requests() if r["path"].startswith(("/api/v1/namespaces/probe/",
                                                                               "/apis/apps/v1/namespaces/probe/")))
    assert lists == ["/api/v1/namespaces/probe/configmaps", "/api/v1/namespaces/probe/configmaps/edp-platform-applied",
                     "/apis/apps/v1/namespaces/probe/deployments"]
    assert state.records["probe"] == {"probe": ["apps/v1/Deployment", "v1/ConfigMap"]}
    assert state.new_namespaces == set()


def test_a_namespace_not_there_yet_is_not_searched(service, emu):
    state = service.live_state(SETTINGS, desired(NS, configmap("c")))
    assert state.new_namespaces == {"probe"}
    assert not [r for r in emu.requests() if "/namespaces/probe/" in r["path"]]


def test_parallel_reads_find_what_one_at_a_time_finds(service, emu):
    objects = desired(NS, configmap("a"), deployment(), pvc())
    converge(service, objects)
    serial = svc.ApplyService(service.client, read_workers=1).live_state(SETTINGS, objects)
    parallel = service.live_state(SETTINGS, objects)  # READ_WORKERS at a time
    assert list(parallel.found) == list(serial.found)  # same objects, same order
    assert parallel.records == serial.records


# -- refusals --------------------------------------------------------------------------------
def test_another_tenants_object_stops_the_apply_before_any_write(service, emu):
    converge(service, desired(NS, configmap("shared")))
    emu.reset_requests()
    other = svc.Settings(tenant="other", environment="dev", components=frozenset({"probe"}))
    with pytest.raises(svc.ApplyError, match="nothing was changed: .*ConfigMap probe/shared belongs to tenant probe"):
        converge(service, desired(NS, configmap("shared"), tenant="other"), other)
    assert emu.writes() == []


def test_an_api_error_says_what_was_done_before_it(service):
    bad = configmap("bad")
    bad["dta"] = {"typo": "x"}
    with pytest.raises(svc.ApplyError) as caught:
        converge(service, desired(NS, configmap("good"), bad))
    assert "422" in str(caught.value) and "dta" in str(caught.value)
    assert "done before the error: created Namespace probe, created ConfigMap good" in str(caught.value)
    assert [(i["name"], i["action"]) for i in caught.value.done] == [("probe", "created"), ("good", "created")]


# -- prune and record ------------------------------------------------------------------------
def test_prune_deletes_what_is_no_longer_rendered_and_keeps_volumes(service, emu):
    converge(service, desired(NS, configmap("kept"), configmap("gone"), pvc()))
    report = converge(service, desired(NS, configmap("kept")))
    assert actions(report)[("ConfigMap", "gone")] == "deleted"
    assert actions(report)[("PersistentVolumeClaim", "data")] == "orphaned"
    assert emu.get_object("v1", "ConfigMap", "gone", "probe") is None
    assert emu.get_object("v1", "PersistentVolumeClaim", "data", "probe") is not None


def test_prune_leaves_other_components_alone(service, emu):
    converge(service, desired(NS, configmap("theirs"), component="other"))
    converge(service, desired(NS, configmap("mine")))
    assert emu.get_object("v1", "ConfigMap", "theirs", "probe") is not None


def test_the_record_is_written_only_when_the_kinds_change(service):
    objects = desired(NS, configmap("c"))
    converge(service, objects)
    state = service.live_state(SETTINGS, objects)
    assert service.write_records(SETTINGS, objects, state.records) == []
    more = desired(NS, configmap("c"), deployment())
    assert service.write_records(SETTINGS, more, state.records) == ["probe"]


# -- the wait --------------------------------------------------------------------------------
def applied(service, objects):
    return [(o, service.serves(o["apiVersion"], o["kind"])) for o in objects]


def test_the_wait_polls_until_a_held_workload_is_ready(service, emu, clock):
    emu.hold_workloads(30)
    objects = desired(NS, deployment())
    converge(service, objects)
    emu.reset_requests()
    start = clock.now
    polls = service.wait(applied(service, objects), timeout=300)
    assert clock.now - start >= 30, "the wait returned before the hold was over"
    assert polls == len(emu.requests()) == 31  # one at once, then one a second until ready
    assert {r["path"] for r in emu.requests()} == {"/apis/apps/v1/namespaces/probe/deployments/web"}


def test_the_wait_returns_at_once_when_workloads_are_ready(service, emu, clock):
    objects = desired(NS, deployment(), job(), configmap("c"))
    converge(service, objects)
    assert service.wait(applied(service, objects), timeout=300) == 2 and clock.sleeps == []


def test_the_wait_gives_up_naming_the_workload(service, emu, clock):
    emu.hold_workloads(float("inf"))
    objects = desired(NS, deployment())
    converge(service, objects)
    with pytest.raises(svc.WaitTimeout, match=r"^Deployment probe/web is not ready after 5 s \(0 of 1 ready\)$"):
        service.wait(applied(service, objects), timeout=5)
    assert sum(clock.sleeps) == 5


def test_a_failed_job_stops_the_wait_at_once_saying_why(service, emu, clock):
    emu.fail_jobs()
    objects = desired(NS, job())
    converge(service, objects)
    with pytest.raises(svc.WorkloadFailed, match="^Job probe/migrate failed: BackoffLimitExceeded: "
                                                 "Job has reached the specified backoff limit$"):
        service.wait(applied(service, objects), timeout=300)
    assert clock.sleeps == []


def test_converge_waits_only_when_asked_and_not_in_check_mode(service, emu):
    emu.hold_workloads(float("inf"))
    waiting = svc.Settings(tenant="probe", components=frozenset({"probe"}), wait=True, wait_timeout=3)
    with pytest.raises(svc.WaitTimeout) as caught:
        converge(service, desired(NS, deployment()), waiting)
    assert [(i["kind"], i["action"]) for i in caught.value.done] == [("Namespace", "created"),
                                                                     ("Deployment", "created")]
    checking = svc.Settings(tenant="probe", components=frozenset({"probe"}), wait=True, check=True)
    converge(service, desired(NS, deployment()), checking)  # no wait: nothing was applied


# -- pure parts ------------------------------------------------------------------------------
def test_desired_objects_are_labelled_hashed_and_ordered():
    objects = svc.desired_objects({"probe": [configmap("c"), NS]}, "probe", "dev", {"team": "a"})
    assert [o["kind"] for o in objects] == ["Namespace", "ConfigMap"]
    labels = objects[1]["metadata"]["labels"]
    assert labels == {ko.LABEL_MANAGED_BY: ko.MANAGED_BY, ko.LABEL_PART_OF: "edp", ko.LABEL_TENANT: "probe",
                      ko.LABEL_ENVIRONMENT: "dev", ko.LABEL_ROLE: "probe", "team": "a"}
    assert ko.ANNOTATION_HASH in objects[1]["metadata"]["annotations"]


def test_an_object_rendered_twice_is_refused():
    with pytest.raises(svc.ApplyError, match="ConfigMap probe/c is rendered twice"):
        svc.desired_objects({"a": [configmap("c")], "b": [configmap("c")]}, "probe")


def test_summarise_counts_actions_and_tells_changes():
    counts, changed, message = svc.summarise([{"action": "unchanged"}, {"action": "created"},
                                              {"action": "unchanged"}])
    assert (counts, changed, message) == ({"unchanged": 2, "created": 1}, True, "1 created, 2 unchanged")
    assert svc.summarise([{"action": "orphaned"}])[1] is False
    assert svc.summarise([]) == ({}, False, "nothing to do")


# -- the client under threads ----------------------------------------------------------------
def test_the_client_can_be_shared_by_reading_threads(service):
    """Each thread reads over its own connection: every answer is the one asked for, and every
    request is counted."""
    from concurrent.futures import ThreadPoolExecutor

    converge(service, desired(NS, *[configmap("c%d" % i, str(i)) for i in range(8)]))
    before = service.client.stats["reads"]
    paths = ["/api/v1/namespaces/probe/configmaps/c%d" % (i % 8) for i in range(160)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(lambda p: service.client.request("GET", p), paths))
    assert [a["metadata"]["name"] for a in answers] == ["c%d" % (i % 8) for i in range(160)]
    assert service.client.stats["reads"] - before == 160
