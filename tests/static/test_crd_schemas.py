"""tests/crds/: the upstream CRDs' structural schemas, kept in the repository for the emulator.

With the upstream files at hand (`$EDP_UPSTREAM_CRDS`, else `../shared/crds` beside the
checkout) the stored files are exactly what scripts/crd_schemas.py makes of them, and the
files are the ones SOURCES records. Without them (a user's clone) the same tests check the
stored files on their own: the script's rendering of each stored CRD is the stored file
(stripping again changes nothing), every file has its SOURCES entry and every entry its file,
every schema is structural and free of prose. Either way the emulator, given tests/crds/,
accepts valid custom resources and refuses invalid ones.
"""

import functools
import hashlib
import importlib.util
import subprocess

import pytest
import yaml

from conftest import BIN, REPO

CRDS = REPO / "tests" / "crds"
_spec = importlib.util.spec_from_file_location("crd_schemas", REPO / "scripts" / "crd_schemas.py")
crd_schemas = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(crd_schemas)
SOURCES = {s["file"]: s for s in crd_schemas.SOURCES}
UPSTREAM = crd_schemas.default_upstream()  # read here and by the script only
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@functools.cache
def stored():
    """{file name: (text, CRD)} of every CRD file in tests/crds/ (read once; not to be changed)."""
    result = {}
    for path in sorted(CRDS.glob("*.yaml")):
        text = path.read_text()
        result[path.name] = (text, yaml.load(text, Loader=_Loader))
    return result


def schema_nodes(node, where):
    """(where, node) for every schema node below `node`, following only the keywords that hold
    schemas (so a property named `description` is a name, not documentation)."""
    yield where, node
    if not isinstance(node, dict):
        return
    for key, value in node.items():
        if key in crd_schemas.SCHEMA_MAPS and value:
            for name, sub in value.items():
                yield from schema_nodes(sub, "%s.%s" % (where, name))
        elif key in crd_schemas.SCHEMA_LISTS | crd_schemas.SCHEMA_ONE and value is not None:
            for i, sub in enumerate(value if isinstance(value, list) else [value]):
                yield from schema_nodes(sub, "%s.%s[%d]" % (where, key, i))


def test_stored_files_are_the_scripts_output_from_the_recorded_upstream_files():
    if UPSTREAM.is_dir():
        proc = subprocess.run([str(BIN / "python"), "scripts/crd_schemas.py", "--upstream", str(UPSTREAM), "--check"],
                              capture_output=True, text=True, cwd=REPO)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        for name, source in SOURCES.items():
            data = (UPSTREAM / name).read_bytes()
            assert hashlib.sha256(data).hexdigest() == source["sha256"], name
        return
    # A clone without the upstream files: everything --check compares except the upstream
    # side. The script renders each stored CRD (header from SOURCES, stripping, YAML layout)
    # into exactly the stored text, and SOURCES.md is the table's with each stored file's
    # sha256 as generated (a file changed by hand since shows here).
    files = stored()
    assert files, "tests/crds/ holds no CRD"
    for name, (text, crd) in files.items():
        assert name in SOURCES, "%s has no entry in SOURCES of scripts/crd_schemas.py" % name
        assert crd_schemas.render(SOURCES[name], crd) == text, "%s is not what the script writes" % name
    texts = {name: text for name, (text, _) in files.items()}
    assert (CRDS / "SOURCES.md").read_text() == crd_schemas.sources_md(texts), \
        "tests/crds/ was changed by hand since scripts/crd_schemas.py wrote it"


def test_stripping_the_stored_files_again_changes_nothing():
    for name, (_, crd) in stored().items():
        assert crd_schemas.strip_crd(crd) == crd, name


def test_every_stored_crd_has_a_sources_entry_and_every_entry_a_file():
    files = stored()
    assert sorted(files) == sorted(SOURCES)
    sources_md = (CRDS / "SOURCES.md").read_text()
    for name, (text, crd) in files.items():
        source = SOURCES[name]
        assert crd["metadata"]["name"] == source["name"], name
        assert source["sha256"] in text and source["commit"] in text, "%s: header does not name its upstream" % name
        assert crd_schemas.raw_url(source) in sources_md and source["sha256"] in sources_md, name
        assert crd_schemas.sha256(text) in sources_md, "%s differs from what the script wrote" % name
    assert "Apache License" in (CRDS / "LICENSE").read_text()
    for notice in crd_schemas.NOTICES.values():
        assert notice.strip() in sources_md


def test_stored_schemas_are_structural_and_hold_no_prose():
    rules = 0
    for name, (_, crd) in stored().items():
        assert set(crd) == {"apiVersion", "kind", "metadata", "spec"} and set(crd["metadata"]) == {"name"}, name
        versions = crd["spec"]["versions"]
        assert [v["storage"] for v in versions].count(True) == 1, name
        assert any(v["served"] for v in versions), name
        for version in versions:
            assert not {"additionalPrinterColumns", "deprecationWarning"} & set(version), name
            schema = version["schema"]["openAPIV3Schema"]
            assert schema["type"] == "object" and schema["properties"], (name, version["name"])
            for where, node in schema_nodes(schema, "%s %s" % (name, version["name"])):
                if isinstance(node, dict):
                    assert not crd_schemas.DOC_KEYWORDS & set(node), where
                    for rule in node.get("x-kubernetes-validations") or []:
                        assert rule["rule"] and (rule.get("message") or rule.get("messageExpression")), where
                        rules += 1
    assert rules > 0, "the CEL rules (x-kubernetes-validations) were lost"


def test_facts_the_tests_rely_on_survive_the_stripping():
    def schema(name, version=0):
        return stored()[name][1]["spec"]["versions"][version]["schema"]["openAPIV3Schema"]

    spark = schema("sparkoperator.k8s.io_sparkapplications.yaml")["properties"]["spec"]
    assert {"type", "sparkVersion"} <= set(spark["required"])
    assert spark["properties"]["mode"]["enum"] == ["cluster", "client"]
    assert spark["properties"]["executor"]["properties"]["instances"]["type"] == "integer"
    route = schema("route.openshift.io_routes.yaml")["properties"]["spec"]["properties"]["port"]
    target_port = route["properties"]["targetPort"]
    assert target_port["x-kubernetes-int-or-string"] is True and "anyOf" in target_port  # anyOf: null upstream
    snapshots = stored()["snapshot.storage.k8s.io_volumesnapshots.yaml"][1]["spec"]["versions"]
    assert {v["name"]: v["served"] for v in snapshots} == {"v1": True, "v1beta1": False}
    assert {v["name"]: v.get("deprecated", False) for v in snapshots} == {"v1": False, "v1beta1": True}


def test_stripping_drops_only_documentation():
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "things.example.com", "annotations": {"controller-gen.kubebuilder.io/version": "v0"}},
        "spec": {"group": "example.com", "scope": "Namespaced",
                 "names": {"plural": "things", "singular": "thing", "kind": "Thing"},
                 "versions": [{
                     "name": "v1", "served": True, "storage": True, "deprecated": True,
                     "deprecationWarning": "use v2", "subresources": {"status": {}},
                     "additionalPrinterColumns": [{"name": "Age", "type": "date", "jsonPath": ".metadata.age"}],
                     "schema": {"openAPIV3Schema": {
                         "description": "A thing.", "type": "object",
                         "properties": {
                             "description": {"type": "string", "description": "a property named so stays",
                                             "maxLength": 64, "example": "x"},
                             "mode": {"type": "string", "enum": ["a", "b"], "default": "a", "title": "Mode"},
                             "spec": {"type": "object", "default": {"description": "data, kept"},
                                      "externalDocs": {"url": "https://example.com"},
                                      "x-kubernetes-validations": [{"rule": "self.x > 0", "message": "x > 0"}],
                                      "additionalProperties": {"type": "string", "description": "d"},
                                      "anyOf": [{"required": ["x"], "description": "d"}],
                                      "properties": {"x": {"type": "integer", "minimum": 1, "nullable": True}}},
                             "port": {"x-kubernetes-int-or-string": True, "anyOf": None},
                             "list": {"type": "array", "items": {"type": "string", "description": "d"},
                                      "x-kubernetes-list-type": "set", "maxItems": 3},
                         }}},
                 }]},
        "status": {"storedVersions": ["v1"]},
    }
    expected = {
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "things.example.com"},
        "spec": {"group": "example.com", "scope": "Namespaced",
                 "names": {"plural": "things", "singular": "thing", "kind": "Thing"},
                 "versions": [{
                     "name": "v1", "served": True, "storage": True, "deprecated": True, "subresources": {"status": {}},
                     "schema": {"openAPIV3Schema": {
                         "type": "object",
                         "properties": {
                             "description": {"type": "string", "maxLength": 64},
                             "mode": {"type": "string", "enum": ["a", "b"], "default": "a"},
                             "spec": {"type": "object", "default": {"description": "data, kept"},
                                      "x-kubernetes-validations": [{"rule": "self.x > 0", "message": "x > 0"}],
                                      "additionalProperties": {"type": "string"},
                                      "anyOf": [{"required": ["x"]}],
                                      "properties": {"x": {"type": "integer", "minimum": 1, "nullable": True}}},
                             "port": {"x-kubernetes-int-or-string": True, "anyOf": None},
                             "list": {"type": "array", "items": {"type": "string"},
                                      "x-kubernetes-list-type": "set", "maxItems": 3},
                         }}},
                 }]},
    }
    assert crd_schemas.strip_crd(crd) == expected
    assert crd_schemas.strip_crd(expected) == expected


@pytest.mark.parametrize("where,change", [
    ("schema", lambda crd: crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"].update({"$ref": "#/x"})),
    ("version", lambda crd: crd["spec"]["versions"][0].update({"newField": True})),
    ("spec", lambda crd: crd["spec"].update({"newField": True})),
])
def test_stripping_refuses_what_it_does_not_know(where, change):
    """An unknown key might be a validation fact: the script stops instead of guessing."""
    crd = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
           "metadata": {"name": "things.example.com"},
           "spec": {"group": "example.com", "scope": "Namespaced", "names": {"plural": "things", "kind": "Thing"},
                    "versions": [{"name": "v1", "served": True, "storage": True,
                                  "schema": {"openAPIV3Schema": {"type": "object"}}}]}}
    change(crd)
    with pytest.raises(ValueError, match="unknown"):
        crd_schemas.strip_crd(crd)


def test_an_upstream_file_is_found_by_its_upstream_name_picked_by_crd_name_and_checked(tmp_path):
    """A file downloaded by hand keeps its upstream name, may hold several CRDs (Istio's
    crd-all.gen.yaml), and is accepted by its git blob id; any other content is refused."""
    def crd(plural):
        return {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
                "metadata": {"name": plural + ".example.com"},
                "spec": {"group": "example.com", "scope": "Namespaced", "names": {"plural": plural, "kind": plural},
                         "versions": [{"name": "v1", "served": True, "storage": True}]}}

    data = yaml.safe_dump_all([crd("as"), crd("bs")]).encode()
    (tmp_path / "all.yaml").write_bytes(data)
    source = {"name": "bs.example.com", "file": "example.com_bs.yaml", "repo": "example/x", "commit": "0" * 40,
              "path": "deploy/all.yaml", "sha256": "0" * 64, "blob": crd_schemas.git_blob(data)}
    assert crd_schemas.read_upstream(tmp_path, source)["metadata"]["name"] == "bs.example.com"
    (tmp_path / "all.yaml").write_bytes(data + b"# edited\n")
    with pytest.raises(SystemExit, match="match neither"):
        crd_schemas.read_upstream(tmp_path, source)


# ------------------------------------------------------------------ the emulator with tests/crds/

NS = "/apis/%s/namespaces/default/%s"


@pytest.fixture(scope="module")
def http():
    from kube_emulator import Emulator
    from support import Http

    with Emulator(crd_dirs=[CRDS]) as emulator:  # the stored folder, whatever EDP_CRD_DIR says
        yield Http(emulator.url)


def custom(api_version, kind, name, spec):
    return {"apiVersion": api_version, "kind": kind, "metadata": {"name": name, "namespace": "default"},
            "spec": spec}


def test_every_stored_crd_is_served(http):
    for name, (_, crd) in stored().items():
        group, plural = crd["spec"]["group"], crd["spec"]["names"]["plural"]
        for version in crd["spec"]["versions"]:
            group_version = "%s/%s" % (group, version["name"])
            path = NS % (group_version, plural) if crd["spec"]["scope"] == "Namespaced" else \
                "/apis/%s/%s" % (group_version, plural)
            status = http.get(path).status
            assert status == (200 if version["served"] else 404), (name, version["name"])


def test_a_service_monitor_is_validated_by_its_schema(http):
    path = NS % ("monitoring.coreos.com/v1", "servicemonitors")
    strict = {"fieldValidation": "Strict"}

    def monitor(name, **endpoint):
        return custom("monitoring.coreos.com/v1", "ServiceMonitor", name, {
            "selector": {"matchLabels": {"app": "airflow"}},
            "endpoints": [dict({"port": "metrics", "interval": "30s"}, **endpoint)]})

    assert http.post(path, monitor("good"), query=strict).status == 201
    unknown = http.post(path, monitor("unknown", scrapeEvery="30s"), query=strict)
    assert unknown.status == 422 and "scrapeEvery" in unknown.body["details"]["causes"][0]["field"], unknown.body
    pattern = http.post(path, monitor("pattern", interval="half a minute"), query=strict)
    assert pattern.status == 422 and pattern.body["details"]["causes"][0]["field"].endswith("interval"), pattern.body


def test_a_spark_application_is_validated_by_its_schema(http):
    path = NS % ("sparkoperator.k8s.io/v1beta2", "sparkapplications")

    def app(name, **overrides):
        spec = {"type": "Python", "mode": "cluster", "sparkVersion": "3.5.0", "image": "spark:3.5.0",
                "mainApplicationFile": "local:///opt/job.py", "driver": {"cores": 1, "memory": "512m"},
                "executor": {"instances": 2, "cores": 1, "memory": "512m"}}
        return custom("sparkoperator.k8s.io/v1beta2", "SparkApplication", name, dict(spec, **overrides))

    assert http.post(path, app("good"), query={"fieldValidation": "Strict"}).status == 201
    enum = http.post(path, app("enum", mode="sideways"))
    assert enum.status == 422 and enum.body["details"]["causes"][0]["field"] == "spec.mode", enum.body
    wrong_type = http.post(path, app("type", executor={"instances": "two"}))
    assert wrong_type.status == 422, wrong_type.body
    assert wrong_type.body["details"]["causes"][0]["field"] == "spec.executor.instances"
    missing = app("required")
    del missing["spec"]["sparkVersion"]
    required = http.post(path, missing)
    assert required.status == 422 and "sparkVersion" in str(required.body["details"]["causes"]), required.body


def test_snapshots_and_routes_are_validated_by_their_schemas(http):
    snapshots = NS % ("snapshot.storage.k8s.io/v1", "volumesnapshots")
    good = custom("snapshot.storage.k8s.io/v1", "VolumeSnapshot", "good",
                  {"volumeSnapshotClassName": "csi", "source": {"persistentVolumeClaimName": "postgres-data"}})
    assert http.post(snapshots, good, query={"fieldValidation": "Strict"}).status == 201
    no_source = custom("snapshot.storage.k8s.io/v1", "VolumeSnapshot", "bad", {"volumeSnapshotClassName": "csi"})
    assert http.post(snapshots, no_source).status == 422
    routes = NS % ("route.openshift.io/v1", "routes")
    for i, port in enumerate(("http", 8080)):  # int-or-string, whose upstream schema says anyOf: null
        route = custom("route.openshift.io/v1", "Route", "r%d" % i,
                       {"to": {"kind": "Service", "name": "airflow"}, "port": {"targetPort": port}})
        assert http.post(routes, route, query={"fieldValidation": "Strict"}).status == 201
    assert http.post(routes, custom("route.openshift.io/v1", "Route", "bad", {"to": {"kind": "Service"}})).status == 422
