"""The network_policy role: the connectivity of its rendered objects computed by
network-config-analyzer (scripts/network_policy_analysis.py, in nca's own virtualenv) and
compared with the expected matrix (network_policy_matrix.yaml); the picture in docs/ is that
analysis; ports follow their variables; the objects are valid, strictly and against the Istio
CRDs; converge and a rerun that writes nothing on Kubernetes and OpenShift; the API server's
addresses read from the Endpoints; bad CIDRs and ports refused before any write."""

import hashlib
import json
import pathlib
import re
import subprocess
import sys
import urllib.error
import urllib.request

import pytest
import yaml

from conftest import BIN, REPO, failure_messages, register_openshift

sys.path.insert(0, str(REPO / "scripts"))
import network_policy_analysis as nca  # noqa: E402

NS = "finance-dev"
VALIDATE = "Validate every role's inputs for this tenant"
APPLY = "Render and apply every role's objects in one call"
MATRIX = yaml.safe_load((pathlib.Path(__file__).parent / "network_policy_matrix.yaml").read_text())
LINE = re.compile(r"^(?P<src>\S+) => (?P<dst>\S+) : (?P<conn>.+)$")
ISTIO_KINDS = {"PeerAuthentication", "AuthorizationPolicy"}


def objects_in(folder):
    return [yaml.safe_load(p.read_text()) for p in sorted(pathlib.Path(folder).rglob("*.yaml"))
            if p.name != "kustomization.yaml"]


@pytest.fixture(scope="module")
def analysis(tmp_path_factory):
    """nca's connectivity of the prod inventory (monitoring flows on): {(source, destination): connections}."""
    work = tmp_path_factory.mktemp("nca")
    manifests = nca.render(work / "render")
    folder = nca.world(manifests, work / "world")
    text = nca.connectivity(folder, "txt_no_fw_rules")
    pairs = {}
    for line in text.splitlines():
        match = LINE.match(line.strip())
        if match:
            pairs[(match["src"], match["dst"])] = match["conn"]
    assert pairs, "nca printed no connection:\n" + text
    return {"pairs": pairs, "folder": folder, "manifests": manifests}


@pytest.mark.parametrize("source,destination,connections", [(p["from"], p["to"], p["connections"]) for p in MATRIX["allowed"]],
                         ids=["%s=>%s" % (p["from"], p["to"]) for p in MATRIX["allowed"]])
def test_the_expected_flows_are_allowed_on_exactly_their_ports(analysis, source, destination, connections):
    found = analysis["pairs"].get((source, destination))
    assert found == connections, "%s => %s: nca finds %r, the matrix expects %r" % (
        source, destination, found, connections)


@pytest.mark.parametrize("source,destination,why", [(p["from"], p["to"], p["why"]) for p in MATRIX["denied"]],
                         ids=["%s=>%s" % (p["from"], p["to"]) for p in MATRIX["denied"]])
def test_the_expected_flows_are_denied(analysis, source, destination, why):
    found = analysis["pairs"].get((source, destination))
    assert found is None, "%s => %s is allowed (%s), but must not be: %s" % (source, destination, found, why)


def _namespace(endpoint):
    return endpoint.split("/")[0] if "/" in endpoint else None


def test_nothing_flows_between_tenants_in_either_direction(analysis):
    tenants = {"finance-prod", "marketing-prod"}
    crossing = [pair for pair in analysis["pairs"] if _namespace(pair[0]) in tenants
                and _namespace(pair[1]) in tenants and _namespace(pair[0]) != _namespace(pair[1])]
    assert crossing == []


def test_nothing_leaves_the_cluster_but_to_the_api_server_and_the_allow_list(analysis):
    """Every address range a tenant's pod may reach is the API server's or an allow-list entry's;
    no address range reaches a tenant's pod."""
    known = {"10.40.0.10-10.40.0.12", "10.200.0.0-10.200.255.255", "10.201.4.0-10.201.4.255"}
    tenants = {"finance-prod", "marketing-prod"}
    out = {dst for src, dst in analysis["pairs"] if _namespace(src) in tenants and _namespace(dst) is None}
    assert out <= known, "tenant pods reach %s" % sorted(out - known)
    into = [pair for pair in analysis["pairs"] if _namespace(pair[0]) is None and _namespace(pair[1]) in tenants]
    assert into == []


def test_the_picture_in_docs_is_this_analysis(analysis):
    """docs/network-policy.dot is nca's graph of the same analysis (make network-policy-docs
    writes it), and the SVG beside it was drawn from that file."""
    dot = nca.connectivity(analysis["folder"], "dot")
    committed = REPO / "docs" / "network-policy.dot"
    assert committed.exists() and committed.read_text() == dot, (
        "docs/network-policy.dot is not current: run make network-policy-docs")
    svg = (REPO / "docs" / "network-policy.svg").read_text()
    assert nca.digest(dot) in svg, "docs/network-policy.svg was not drawn from docs/network-policy.dot"


def _policy(objects, name):
    [found] = [o for o in objects if o["kind"] == "NetworkPolicy" and o["metadata"]["name"] == name]
    return found


def _ports(rules):
    return sorted({p["port"] for rule in rules for p in rule.get("ports", [])})


def test_ports_come_from_the_variables_that_set_them(tmp_path):
    """Changing a port on a container or Service changes the policy that opens it."""
    manifests = nca.render(tmp_path, inventory="dev", postgres_port=5433, airflow_database_port=5433,
                           airflow_api_port=8443,
                           spark_driver_port=7100, spark_block_manager_port=7101, spark_history_port=18443)
    objects = objects_in(manifests / "finance")
    assert _ports(_policy(objects, "postgres")["spec"]["ingress"]) == [5433]
    assert _ports(_policy(objects, "airflow-api-server")["spec"]["ingress"]) == [8443]
    assert _ports(_policy(objects, "spark-driver")["spec"]["ingress"]) == [4040, 7100, 7101]
    assert _ports(_policy(objects, "spark-history-server")["spec"]["ingress"]) == [18443]
    service = next(o for o in objects if o["kind"] == "Service" and o["metadata"]["name"] == "postgres")
    assert service["spec"]["ports"][0]["port"] == 5433
    defaults = next(o for o in objects if o["kind"] == "ConfigMap" and o["metadata"]["name"] == "spark-defaults")
    assert "spark.driver.port 7100" in defaults["data"]["spark-defaults.conf"]
    assert "spark.blockManager.port 7101" in defaults["data"]["spark-defaults.conf"]


@pytest.fixture(scope="module")
def mesh(tmp_path_factory):
    """The prod inventory with Istio on, per flavour: {flavour: [objects]}."""
    return {flavour: objects_in(nca.render(tmp_path_factory.mktemp("mesh-" + flavour), flavour=flavour,
                                           network_policy_istio=True, network_policy_node_cidrs=["10.40.1.0/24"]))
            for flavour in ("kubernetes", "openshift")}


@pytest.mark.parametrize("flavour", ["kubernetes", "openshift"])
def test_rendered_policies_are_valid_kubernetes_strict(mesh, tmp_path, flavour):
    files = []
    for index, obj in enumerate(o for o in mesh[flavour] if o["kind"] == "NetworkPolicy"):
        path = tmp_path / ("%d.yaml" % index)
        path.write_text(yaml.safe_dump(obj))
        files.append(str(path))
    assert len(files) >= 17
    for version in ("1.31.0", "1.37.0"):
        proc = subprocess.run([str(BIN / "kubernetes-validate"), "--strict", "--quiet", "-k", version] + files,
                              capture_output=True, text=True)
        assert proc.returncode == 0 and "warn" not in (proc.stdout + proc.stderr).lower(), proc.stdout + proc.stderr


@pytest.mark.parametrize("flavour", ["kubernetes", "openshift"])
def test_istio_objects_match_their_crds(mesh, emulator, flavour):
    """Accepted by an API server that serves the upstream Istio CRDs, with strict field validation."""
    istio = [o for o in mesh[flavour] if o["kind"] in ISTIO_KINDS]
    assert {o["kind"] for o in istio} == ISTIO_KINDS
    namespaces = {o["metadata"]["namespace"] for o in istio}
    for namespace in namespaces:
        _post(emulator, "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                               "metadata": {"name": namespace}}, "")
    for obj in istio:
        plural = {"PeerAuthentication": "peerauthentications", "AuthorizationPolicy": "authorizationpolicies"}
        path = "/apis/security.istio.io/v1/namespaces/%s/%s" % (obj["metadata"]["namespace"], plural[obj["kind"]])
        status, body = _post(emulator, path, obj, "?fieldValidation=Strict&dryRun=All")
        assert status == 201, "%s %s refused: %s" % (obj["kind"], obj["metadata"]["name"], body)


def test_the_mesh_allows_the_same_flows_by_service_account(mesh):
    objects = [o for o in mesh["kubernetes"] if o["metadata"].get("namespace") == "finance-prod"]
    [peer] = [o for o in objects if o["kind"] == "PeerAuthentication"]
    assert peer["spec"] == {"mtls": {"mode": "STRICT"}}
    policies = {o["metadata"]["name"]: o["spec"] for o in objects if o["kind"] == "AuthorizationPolicy"}
    assert policies["deny-all"] == {}
    postgres = policies["postgres"]["rules"]
    # prod runs PgBouncer: it, Airflow's Jobs (and, by the account they share, the dag-processor
    # and triggerer), the backups and the exporter; not the api-server's and scheduler's accounts,
    # never the task pods (airflow-worker).
    assert postgres[0]["from"] == [{"source": {"serviceAccounts": [
        "finance-prod/airflow", "finance-prod/default", "finance-prod/pgbouncer"]}}]
    pgbouncer = policies["pgbouncer"]["rules"]
    assert pgbouncer == [{"from": [{"source": {"serviceAccounts": [
        "finance-prod/airflow", "finance-prod/airflow-api-server", "finance-prod/airflow-scheduler"]}}],
        "to": [{"operation": {"ports": ["6432"]}}]}]
    assert "finance-prod/airflow-worker" in policies["airflow-api-server"]["rules"][0]["from"][0]["source"][
        "serviceAccounts"]
    assert postgres[0]["to"] == [{"operation": {"ports": ["5432"]}}]
    executor = policies["spark-executor"]["rules"]
    assert executor[0]["from"][0]["source"]["serviceAccounts"] == [
        "finance-prod/spark-driver", "finance-prod/spark-executor"]
    mesh_policy = _policy(objects, "allow-mesh")["spec"]
    assert _ports(mesh_policy["egress"]) == [15012]
    assert _ports(mesh_policy["ingress"]) == [15020, 15021, 15090]
    namespace = next(o for o in mesh["kubernetes"] if o["kind"] == "Namespace"
                     and o["metadata"]["name"] == "finance-prod")
    assert namespace["metadata"]["labels"]["istio-injection"] == "enabled"


def test_openshift_uses_its_dns_router_and_monitoring_labels(mesh):
    objects = [o for o in mesh["openshift"] if o["metadata"].get("namespace") == "finance-prod"]
    dns = _policy(objects, "allow-dns")["spec"]["egress"][0]
    assert dns["to"][0]["namespaceSelector"]["matchLabels"] == {"kubernetes.io/metadata.name": "openshift-dns"}
    assert _ports([dns]) == [5353]
    api = _policy(objects, "airflow-api-server")["spec"]["ingress"]
    assert {"namespaceSelector": {"matchLabels": {"network.openshift.io/policy-group": "ingress"}}} in [
        peer for rule in api for peer in rule["from"]]


@pytest.mark.parametrize("flavour, monitoring", [
    ("kubernetes", {"kubernetes.io/metadata.name": "monitoring"}),
    # The label OpenShift's monitoring namespaces carry, user-workload monitoring's included: a
    # namespace called `monitoring` does not exist there.
    ("openshift", {"network.openshift.io/policy-group": "monitoring"})])
def test_the_monitoring_namespace_is_the_flavours_own(mesh, flavour, monitoring):
    objects = [o for o in mesh[flavour] if o["metadata"].get("namespace") == "finance-prod"]
    scrapers = {json.dumps(peer["namespaceSelector"]["matchLabels"], sort_keys=True)
                for obj in objects if obj["kind"] == "NetworkPolicy"
                for rule in obj["spec"].get("ingress", []) for peer in rule.get("from", [])
                if "namespaceSelector" in peer and "podSelector" not in peer
                and "monitoring" in json.dumps(peer["namespaceSelector"])}
    assert scrapers == {json.dumps(monitoring, sort_keys=True)}


def _post(emulator, path, body, query):
    req = urllib.request.Request(emulator.url + path + query, data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req) as reply:
            return reply.status, reply.read().decode()[:500]
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()[:800]


@pytest.mark.parametrize("flavour", ["kubernetes", "openshift"])
def test_converge_and_a_rerun_writes_nothing(ansible, emulator, flavour):
    if flavour == "openshift":
        register_openshift(emulator)
    extra = {"network_policy_istio": True}
    run = ansible.playbook("site.yml", "dev", "--limit", "finance", extra_vars=extra)
    assert run.rc == 0, failure_messages(run)
    assert run.task_results(APPLY)["finance"]["flavour"] == flavour
    live = emulator.get_object("networking.k8s.io/v1", "NetworkPolicy", "allow-dns", NS)
    assert live["spec"]["egress"][0]["ports"][0]["port"] == (5353 if flavour == "openshift" else 53)
    assert emulator.get_object("security.istio.io/v1", "PeerAuthentication", "default", NS) is not None
    emulator.reset_requests()
    rerun = ansible.playbook("site.yml", "dev", "--limit", "finance", extra_vars=extra)
    assert rerun.rc == 0, failure_messages(rerun)
    assert rerun.changed() == 0
    assert emulator.writes() == [], "the rerun wrote: %s" % emulator.writes()


def test_the_api_server_addresses_can_come_from_the_endpoints(ansible, emulator):
    _post(emulator, "/api/v1/namespaces/default/endpoints", {
        "apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "kubernetes", "namespace": "default"},
        "subsets": [{"addresses": [{"ip": "192.0.2.7"}, {"ip": "192.0.2.8"}],
                     "ports": [{"name": "https", "port": 16443, "protocol": "TCP"}]}]}, "")
    run = ansible.playbook("site.yml", "dev", "--limit", "finance",
                           extra_vars={"network_policy_kube_api_from_endpoints": True,
                                       "network_policy_kube_api_cidrs": []})
    assert run.rc == 0, failure_messages(run)
    scheduler = emulator.get_object("networking.k8s.io/v1", "NetworkPolicy", "airflow-scheduler", NS)
    [rule] = [r for r in scheduler["spec"]["egress"] if "ipBlock" in r["to"][0]]
    assert rule["to"] == [{"ipBlock": {"cidr": "192.0.2.7/32"}}, {"ipBlock": {"cidr": "192.0.2.8/32"}}]
    assert rule["ports"] == [{"port": 16443, "protocol": "TCP"}]


ROLES = ["tenant", "postgres", "airflow", "spark_rbac", "spark", "network_policy", "dr"]
BAD_INPUTS = [
    ("cidr-not-a-network", {"network_policy_kube_api_cidrs": ["10.0.0.300/32"]},
     "network_policy_kube_api_cidrs[0]: '10.0.0.300/32' is not a CIDR (a network such as 10.20.0.0/16 or 2001:db8::/48)"),
    ("cidr-without-prefix", {"network_policy_kube_api_cidrs": ["10.0.0.1"]},
     "network_policy_kube_api_cidrs[0]: '10.0.0.1' is not a CIDR (a network such as 10.20.0.0/16 or 2001:db8::/48)"),
    ("cidr-host-bits", {"network_policy_egress_allow": [{"cidr": "10.20.1.0/16", "ports": [{"port": 443}]}]},
     "network_policy_egress_allow[0].cidr: '10.20.1.0/16' has host bits set: the network is 10.20.0.0/16"),
    ("whole-internet", {"network_policy_egress_allow": [{"cidr": "0.0.0.0/0", "ports": [{"port": 443}]}]},
     "network_policy_egress_allow[0].cidr: '0.0.0.0/0' is the whole internet: list the networks of the data "
     "sources and sinks"),
    ("port-out-of-range", {"network_policy_egress_allow": [{"cidr": "10.20.0.0/16", "ports": [{"port": 70000}]}]},
     "network_policy_egress_allow[0].ports[0].port: 70000 is not a port (1-65535)"),
    ("end-port-below-port", {"network_policy_egress_allow": [
        {"cidr": "10.20.0.0/16", "ports": [{"port": 9000, "end_port": 8000}]}]},
     "network_policy_egress_allow[0].ports[0].end_port: 8000 is below port 9000"),
    ("except-outside-cidr", {"network_policy_egress_allow": [
        {"cidr": "10.20.0.0/16", "ports": [{"port": 443}], "except": ["10.30.0.0/24"]}]},
     "network_policy_egress_allow[0].except[0]: '10.30.0.0/24' is not a network inside cidr 10.20.0.0/16"),
    ("ipv6-host-bits", {"network_policy_egress_allow": [{"cidr": "2001:db8::1/48", "ports": [{"port": 443}]}]},
     "network_policy_egress_allow[0].cidr: '2001:db8::1/48' has host bits set: the network is 2001:db8::/48"),
    ("api-port-out-of-range", {"network_policy_kube_api_port": 0},
     "network_policy_kube_api_port: 0 is not a port (1-65535)"),
    ("no-api-server-address", {"network_policy_kube_api_cidrs": []},
     "network_policy_kube_api_cidrs: is required: list the API server's addresses (kubectl get endpoints "
     "kubernetes -n default), or set network_policy_kube_api_from_endpoints"),
    ("spark-driver-port", {"spark_driver_port": 70000}, "spark_driver_port: 70000 is not a port (1-65535)"),
]


def validate_errors(run, host="finance"):
    for play in run.results:
        for task in play["tasks"]:
            if task["task"]["name"] == VALIDATE and host in task["hosts"]:
                return task["hosts"][host].get("errors") or []
    return []


@pytest.mark.parametrize("extra_vars,expected", [c[1:] for c in BAD_INPUTS], ids=[c[0] for c in BAD_INPUTS])
def test_bad_cidrs_and_ports_fail_before_any_write_naming_the_variable(ansible, emulator, extra_vars, expected):
    run = ansible.playbook("site.yml", "dev", extra_vars=dict(extra_vars, edp_roles=ROLES))
    assert run.rc != 0, "site.yml accepted %s" % extra_vars
    assert expected in validate_errors(run), failure_messages(run)
    assert emulator.writes() == [], "wrote before failing: %s" % emulator.writes()
