"""The execution environment (execution-environment.yml, bindep.txt): `ansible-builder create`
writes a build context whose Containerfile starts from the declared base, installs the pinned
ansible-core and the runtime Python packages, the PostgreSQL 15 client and the collections,
and nothing only the tests need."""

import importlib.metadata
import re
import subprocess

import pytest
import yaml

from conftest import BIN, REPO

DEFINITION = yaml.safe_load((REPO / "execution-environment.yml").read_text())


def pins(path):
    """{normalised name: version} of a pip requirements file's `name==version` lines."""
    result = {}
    for line in path.read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9_.-]+)==(\S+)", line.strip())
        if match:
            result[re.sub(r"[-_.]+", "-", match.group(1)).lower()] = match.group(2)
    return result


@pytest.fixture(scope="module")
def context(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ee")
    proc = subprocess.run([str(BIN / "ansible-builder"), "create", "-f", str(REPO / "execution-environment.yml"),
                           "-c", str(folder), "--output-filename", "Containerfile"],
                          capture_output=True, text=True, cwd=REPO, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return folder


def test_the_containerfile_starts_from_the_declared_base(context):
    text = (context / "Containerfile").read_text()
    base = DEFINITION["images"]["base_image"]["name"]
    assert 'ARG EE_BASE_IMAGE="%s"' % base in text
    assert "FROM $EE_BASE_IMAGE AS base" in text
    assert ":latest" not in base and re.search(r":\d", base), "the base image must be pinned: %s" % base


def test_ansible_core_is_the_version_the_tests_run(context):
    text = (context / "Containerfile").read_text()
    tested = importlib.metadata.version("ansible-core")
    assert re.search(r'ARG ANSIBLE_INSTALL_REFS=".*ansible-core==%s[ "]' % re.escape(tested), text), \
        "the execution environment's ansible-core is not %s, the one the tests run" % tested


def test_the_python_packages_are_the_runtime_pins_and_no_test_tool(context):
    installed = pins(context / "_build" / "requirements.txt")
    assert installed == pins(REPO / "requirements-ee.txt")
    assert "COPY _build/requirements.txt requirements.txt" in (context / "Containerfile").read_text()
    runtime = pins(REPO / "requirements.txt")
    differ = sorted("%s %s != %s" % (n, v, runtime[n]) for n, v in installed.items() if n in runtime and runtime[n] != v)
    assert differ == [], "pinned differently from requirements.txt: %s" % differ
    test_only = set(pins(REPO / "requirements-test.txt")) - set(runtime)
    leaked = sorted(test_only & set(installed))
    assert leaked == [], "test-only packages in the execution environment: %s" % leaked
    # What the collection imports at run time is there (its modules' and the apply's libraries).
    assert {"kubernetes", "psycopg2-binary", "pyyaml"} <= set(installed)


def test_the_postgresql_15_client_is_installed_from_bindep(context):
    bindep = (context / "_build" / "bindep.txt").read_text()
    assert bindep == (REPO / "bindep.txt").read_text()
    lines = [line.split("#")[0].strip() for line in bindep.splitlines() if line.split("#")[0].strip()]
    rpm = [line.split()[0] for line in lines if "platform:rpm" in line]
    assert "postgresql" in rpm, "no PostgreSQL client for the base image's package manager (rpm)"
    text = (context / "Containerfile").read_text()
    # CentOS Stream 9 defaults to PostgreSQL 13: the 15 stream must be enabled before bindep installs.
    enable = text.find("module enable -y postgresql:15")
    install = text.find("/output/scripts/install-from-bindep")
    assert 0 < enable < install, "the PostgreSQL 15 stream is not enabled before the system packages install"
    server = {re.search(r"postgres:(\d+)\.", p.read_text()).group(1)
              for p in (REPO / "inventories").glob("*/group_vars/tenants/images.yml")}
    assert server == {"15"}, "the client is 15, the inventories run PostgreSQL %s" % sorted(server)


def test_git_is_installed_for_publishing_on_either_package_manager(context):
    """onboard.yml and promote.yml push their change with git from the job (playbooks/tasks/publish-push.yml)."""
    bindep = (context / "_build" / "bindep.txt").read_text()
    [line] = [line for line in bindep.splitlines() if line.split("#")[0].split()[:1] == ["git"]]
    assert "platform:rpm" in line and "platform:dpkg" in line, line


def test_the_collections_are_the_ones_the_collection_declares(context):
    assert (yaml.safe_load((context / "_build" / "requirements.yml").read_text())
            == yaml.safe_load((REPO / "requirements.yml").read_text()))
    text = (context / "Containerfile").read_text()
    assert "ansible-galaxy collection install" in text and "-r requirements.yml" in text
    names = [c["name"] for c in yaml.safe_load((REPO / "requirements.yml").read_text())["collections"]]
    assert "awx.awx" not in names, "awx.awx configures AWX from outside; no job calls it"


def test_the_collection_declares_its_dependencies_for_other_execution_environments():
    """ansible-builder reads meta/execution-environment.yml of each collection it installs."""
    meta = yaml.safe_load((REPO / "meta" / "execution-environment.yml").read_text())
    assert meta["dependencies"] == {"python": "requirements-ee.txt", "system": "bindep.txt"}
    for name in meta["dependencies"].values():
        assert (REPO / name).is_file()
