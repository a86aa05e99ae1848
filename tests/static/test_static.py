"""Static checks: lint, syntax, docs, declarations, packaging. No cluster needed."""

import os
import pathlib
import subprocess
import tarfile

import pytest
import yaml

from conftest import BIN, COLLECTIONS, ENVIRONMENTS, REPO
from lib.short_tmp import short_tmpdir

PLAYBOOKS = sorted(str(p.relative_to(REPO)) for p in (REPO / "playbooks").glob("*.yml")) + ["site.yml"]


# awx.awx for the lint of awx/ (Makefile: taken from ansible 12.3.0's archive, test-only).
TEST_COLLECTIONS = REPO / "build" / "test-collections"


def run(*cmd, env=None, cwd=REPO, timeout=300):
    paths = "%s:%s" % (COLLECTIONS, TEST_COLLECTIONS)
    full_env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=paths, ANSIBLE_NOCOLOR="1",
                    PATH="%s:%s" % (BIN, os.environ.get("PATH", "")), **(env or {}))
    return subprocess.run([str(c) for c in cmd], capture_output=True, text=True, cwd=cwd, env=full_env,
                          timeout=timeout)


def test_ansible_lint_production_profile_finds_nothing(tmp_path):
    assert (TEST_COLLECTIONS / "ansible_collections" / "awx" / "awx").is_dir(), "run `make test` (it fetches awx.awx)"
    proc = run(BIN / "ansible-lint", "--profile", "production", "--offline", env={"HOME": str(tmp_path)})
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]


def test_yamllint_finds_nothing():
    proc = run(BIN / "yamllint", "--strict", ".")
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("playbook", PLAYBOOKS)
def test_playbook_syntax(playbook):
    proc = run(BIN / "ansible-playbook", "--syntax-check", "-i", "inventories/dev", playbook)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def _spec_options():
    declared = {}
    for spec_file in (REPO / "roles").glob("*/meta/argument_specs.yml"):
        specs = yaml.safe_load(spec_file.read_text())["argument_specs"]
        for entry in specs.values():
            for name, option in entry.get("options", {}).items():
                declared[name] = (spec_file.parent.parent.name, option)
    return declared


@pytest.mark.parametrize("env", ENVIRONMENTS + ["local"])
def test_every_inventory_variable_is_declared_in_an_argument_spec(env):
    declared = _spec_options()
    undeclared = []
    for path in sorted((REPO / "inventories" / env).rglob("*.yml")):
        if "group_vars" not in path.parts and "host_vars" not in path.parts:
            continue
        for name in yaml.safe_load(path.read_text()) or {}:
            if not name.startswith(("ansible_", "vault_")) and name not in declared:
                undeclared.append("%s: %s" % (path.relative_to(REPO), name))
    assert undeclared == [], "variables no role declares (a typo is silently ignored otherwise)"


@pytest.mark.parametrize("role", sorted(p.name for p in (REPO / "roles").iterdir()))
def test_role_defaults_match_the_argument_spec(role):
    """Defaults live in defaults/main.yml and are documented in the spec: both must agree."""
    defaults = yaml.safe_load((REPO / "roles" / role / "defaults" / "main.yml").read_text()) or {}
    spec = yaml.safe_load((REPO / "roles" / role / "meta" / "argument_specs.yml").read_text())
    options = next(iter(spec["argument_specs"].values()))["options"]
    assert sorted(defaults) == sorted(n for n, o in options.items() if "default" in o), \
        "defaults/main.yml and the argument spec declare different variables"
    for name, value in defaults.items():
        assert options[name]["default"] == value, "%s: default differs between defaults and spec" % name


@pytest.mark.parametrize("role", sorted(p.name for p in (REPO / "roles").iterdir()))
def test_role_variables_carry_the_role_prefix(role):
    spec = yaml.safe_load((REPO / "roles" / role / "meta" / "argument_specs.yml").read_text())
    for name in next(iter(spec["argument_specs"].values()))["options"]:
        assert name.startswith(role + "_"), "%s declares %s, outside its prefix" % (role, name)


def test_role_readmes_are_generated_from_the_argument_specs_and_template_lists():
    """Each README's variable table is its argument spec's, its object table the templates of
    <role>_k8s_templates with their headers (scripts/role_docs.py; `make docs` rewrites them)."""
    proc = run(BIN / "python", "scripts/role_docs.py", "--check")
    assert proc.returncode == 0, proc.stdout + proc.stderr


def _role_docs():
    import importlib.util

    spec = importlib.util.spec_from_file_location("role_docs", REPO / "scripts" / "role_docs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_object_table_names_a_template_without_header_and_a_header_not_listed(tmp_path):
    role_docs = _role_docs()
    role = tmp_path / "demo"
    (role / "vars").mkdir(parents=True)
    (role / "templates").mkdir()
    (role / "vars" / "main.yml").write_text("demo_k8s_templates: [a-configmap.yaml.j2, b-secret.yaml.j2]\n")
    (role / "templates" / "a-configmap.yaml.j2").write_text(
        "{#- Object: ConfigMap `a`\n    What for: settings | read by\n    every pod. -#}\nkind: ConfigMap\n")
    (role / "templates" / "b-secret.yaml.j2").write_text("kind: Secret\n")
    (role / "templates" / "c-service.yaml.j2").write_text("{#- Object: Service `c` What for: nothing. -#}\n")
    rows, problems = role_docs.object_rows(role)
    assert rows == ["| ConfigMap `a` | `a-configmap.yaml.j2` | settings \\| read by every pod. |"]
    assert problems == [
        "%s has no header: start it with {#- Object: Kind `name` What for: ... -#}" % (role / "templates" / "b-secret.yaml.j2"),
        "%s has an object header but is not in demo_k8s_templates (vars/main.yml)" % (role / "templates" / "c-service.yaml.j2")]


MODULES = sorted(p.stem for p in (REPO / "plugins" / "modules").glob("*.py") if p.stem != "__init__")


def _filters():
    import importlib

    names = []
    for path in (REPO / "plugins" / "filter").glob("*.py"):
        plugin = importlib.import_module("ansible_collections.edp.platform.plugins.filter." + path.stem)
        names += plugin.FilterModule().filters()
    return sorted(names)


FILTERS = _filters()


LOOKUPS = sorted(p.stem for p in (REPO / "plugins" / "lookup").glob("*.py") if p.stem != "__init__")


@pytest.mark.parametrize("plugin_type,name", [("module", "edp.platform." + m) for m in MODULES]
                         + [("filter", "edp.platform." + f) for f in FILTERS]
                         + [("lookup", "edp.platform." + name) for name in LOOKUPS])
def test_plugin_documentation_renders(plugin_type, name):
    proc = run(BIN / "ansible-doc", "-t", plugin_type, name)
    assert proc.returncode == 0, proc.stderr
    assert "EXAMPLES" in proc.stdout and ("RETURN" in proc.stdout or "RETURN VALUES" in proc.stdout)


@pytest.mark.parametrize("name", MODULES)
def test_module_documentation_matches_the_argument_spec(name):
    import importlib

    from lib.docs import option_mismatches

    module = importlib.import_module("ansible_collections.edp.platform.plugins.modules." + name)
    if hasattr(module, "ARGUMENT_SPEC"):
        spec = module.ARGUMENT_SPEC
    else:  # an action plugin: its spec lives beside its code
        spec = importlib.import_module("ansible_collections.edp.platform.plugins.action." + name).ARGUMENT_SPEC
    assert option_mismatches(module, spec) == []


# What the collection runs (tests, bench/ and the lint of awx/ take their collections from
# requirements-test.txt's ansible package and build/test-collections, never from galaxy.yml).
RUNTIME_FILES = ["site.yml", "playbooks", "roles", "plugins", "meta"]


def _runtime_text():
    texts = []
    for name in RUNTIME_FILES:
        path = REPO / name
        for item in [path] if path.is_file() else sorted(path.rglob("*")):
            if item.is_file() and item.suffix in (".yml", ".yaml", ".j2", ".py", ".sh"):
                texts.append(item.read_text(errors="replace"))
    return "\n".join(texts)


def test_every_declared_collection_is_used():
    """A dependency in galaxy.yml is installed with the collection and into the execution
    environment: one that nothing of the collection calls by its FQCN is dead weight."""
    declared = yaml.safe_load((REPO / "galaxy.yml").read_text())["dependencies"]
    text = _runtime_text()
    unused = [name for name in sorted(declared) if name + "." not in text]
    assert unused == [], "declared in galaxy.yml, used by nothing the collection runs: %s" % unused


def test_requirements_yml_lists_the_galaxy_dependencies():
    """requirements.yml (users installing from Galaxy, and the execution environment) and
    galaxy.yml name the same collections with the same version ranges."""
    declared = yaml.safe_load((REPO / "galaxy.yml").read_text())["dependencies"]
    listed = yaml.safe_load((REPO / "requirements.yml").read_text())["collections"]
    assert {c["name"]: c["version"] for c in listed} == declared


def test_changelog_fragments_are_valid():
    proc = run(BIN / "antsibull-changelog", "lint")
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_nothing_names_a_path_of_a_developer_machine():
    tracked = subprocess.run(["git", "ls-files"], capture_output=True, text=True, cwd=REPO).stdout.split()
    offenders = []
    for name in tracked:
        path = REPO / name
        if path.is_symlink() or not path.is_file():
            continue
        text = path.read_text(errors="replace")
        for needle in ("/work/", "/root/", "/home/", ".pyenv"):
            if needle in text and name != "tests/static/test_static.py":
                offenders.append("%s: %s" % (name, needle))
    assert offenders == []


def test_collection_builds_installs_and_runs_site_from_the_installed_copy(tmp_path, ansible_offline):
    proc = run(BIN / "ansible-galaxy", "collection", "build", "--output-path", tmp_path, REPO)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    [tarball] = tmp_path.glob("edp-platform-*.tar.gz")
    with tarfile.open(tarball) as tar:
        names = tar.getnames()
    assert "roles/tenant/tasks/main.yml" in names and "plugins/action/k8s_apply.py" in names
    assert not any(n.startswith((".venv", "collections/", "tests/output")) for n in names)
    installed = tmp_path / "installed"
    proc = run(BIN / "ansible-galaxy", "collection", "install", "--offline", "--no-deps", "--force", "-p", installed, tarball)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # An inventory outside the checkout, and no ansible.cfg of ours: as a user of the installed collection.
    outside = tmp_path / "project"
    outside.mkdir()
    (outside / "ansible.cfg").write_text("[defaults]\n")
    render = tmp_path / "render"
    proc = subprocess.run(
        [str(BIN / "ansible-playbook"), "edp.platform.site", "-i", str(REPO / "inventories" / "dev"),
         "-e", "edp_render_dir=%s" % render, "-e", "vault_edp_registry_password=from-a-vault-0123"],
        capture_output=True, text=True, cwd=outside,
        env=dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(installed), ANSIBLE_CONFIG=str(outside / "ansible.cfg"),
                 ANSIBLE_NOCOLOR="1", TMPDIR=str(short_tmpdir()), ANSIBLE_HOME=str(tmp_path / "home"),
                 PATH="%s:%s" % (BIN, os.environ.get("PATH", ""))))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert (render / "dev" / "manifests" / "finance" / "02-resourcequota-finance-quota.yaml").exists()
