"""The AWX objects as code (awx/objects.yml, applied by awx/configure.yml): every job template
runs a playbook and an inventory that exist, every survey question is an input the playbook
accepts (playbooks/vars/argument_specs.yml) with the same type and choices, every workflow node
runs a declared template and promotes only after its source environment's site and drill, and
every awx.awx task passes arguments the pinned awx.awx version accepts."""

import ast
import re

import pytest
import yaml

from conftest import REPO

AWX_COLLECTION = REPO / "build" / "test-collections" / "ansible_collections" / "awx" / "awx"


class _Loader(yaml.SafeLoader):
    """Reads Ansible's !unsafe (AWX's own templates in the injectors) as the plain string it is."""


_Loader.add_constructor("!unsafe", lambda loader, node: loader.construct_scalar(node))


def load(path):
    return yaml.load(path.read_text(), Loader=_Loader)


OBJECTS = load(REPO / "awx" / "objects.yml")
CONFIGURE = load(REPO / "awx" / "configure.yml")
PLAYBOOK_SPECS = load(REPO / "playbooks" / "vars" / "argument_specs.yml")["argument_specs"]

# AWX survey question types and the argument-spec type each one hands the playbook.
SURVEY_TYPES = {"text": "str", "textarea": "str", "password": "str", "multiplechoice": "str",
                "multiselect": "list", "integer": "int", "float": "float"}


def job_templates():
    """{AWX name: (data entry, environment)}, expanded as configure.yml does (edp-<env>-<name>)."""
    return {"edp-%s-%s" % (env, entry["name"]): (entry, env)
            for entry in OBJECTS["edp_awx_job_templates"] for env in entry["environments"]}


def playbook_spec(entry):
    name = pathlib_stem(entry["playbook"])
    assert name in PLAYBOOK_SPECS, "%s has no entry in playbooks/vars/argument_specs.yml" % entry["playbook"]
    return PLAYBOOK_SPECS[name].get("options") or {}


def pathlib_stem(playbook):
    return playbook.rsplit("/", 1)[-1].rsplit(".", 1)[0]


def tasks():
    return [task for play in CONFIGURE for task in play["tasks"]]


def awx_task(module):
    [task] = [t for t in tasks() if "awx.awx." + module in t]
    return task["awx.awx." + module]


TEMPLATES = job_templates()


# --- job templates ----------------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_every_job_template_names_a_playbook_and_an_inventory_that_exist(name):
    entry, env = TEMPLATES[name]
    playbook = REPO / entry["playbook"]
    assert playbook.is_file(), "%s runs %s, which does not exist" % (name, entry["playbook"])
    plays = load(playbook)
    assert isinstance(plays, list) and all("hosts" in p or "ansible.builtin.import_playbook" in p for p in plays), \
        "%s is not a playbook" % entry["playbook"]
    assert env in OBJECTS["edp_awx_environments"], "%s uses inventory edp-%s, which configure.yml does not create" % (
        name, env)
    assert (REPO / "inventories" / env / "hosts.yml").is_file(), "inventories/%s/hosts.yml does not exist" % env


def test_job_templates_and_inventory_sources_use_the_inventory_names_configure_creates():
    """The expansion above is configure.yml's: edp-<env> inventories sourced from inventories/<env>."""
    assert awx_task("inventory")["name"] == "edp-{{ item }}"
    assert awx_task("inventory_source")["inventory"] == "edp-{{ item }}"
    assert awx_task("inventory_source")["source_path"] == "inventories/{{ item }}/hosts.yml"
    assert awx_task("job_template")["inventory"] == "edp-{{ item.1 }}"
    assert awx_task("job_template")["name"] == "edp-{{ item.1 }}-{{ item.0.name }}"


def test_every_key_of_a_job_template_entry_reaches_the_awx_task():
    """A key configure.yml does not read (a typo such as ask_limit_on_lunch) would be silently dropped."""
    text = (REPO / "awx" / "configure.yml").read_text()
    unread = sorted({key for entry in OBJECTS["edp_awx_job_templates"] for key in entry
                     if key != "environments" and "item.0.%s" % key not in text})
    assert unread == [], "keys of edp_awx_job_templates that configure.yml never reads: %s" % unread


def test_inventory_sources_carry_the_vault_credential():
    assert awx_task("inventory_source")["credential"] in [c["name"] for c in OBJECTS["edp_awx_credentials"]
                                                          if c["credential_type"] == "Vault"]


def test_site_is_sliced_where_there_are_many_tenants():
    [site] = [e for e in OBJECTS["edp_awx_job_templates"] if e["name"] == "site"]
    slices = site["job_slice_count"]
    assert set(slices) == set(site["environments"]), "every environment's site needs a slice count"
    assert all(isinstance(n, int) and n >= 1 for n in slices.values())
    assert slices["prod"] > 1, "prod's site runs in one job: its tenants would not spread over execution nodes"


# --- surveys against the playbooks' argument specs -------------------------------------------

SURVEYS = [(name, q) for name, (entry, _) in sorted(TEMPLATES.items()) for q in entry.get("survey", [])]


@pytest.mark.parametrize("name,question", SURVEYS, ids=["%s:%s" % (n, q["variable"]) for n, q in SURVEYS])
def test_every_survey_variable_is_accepted_by_the_playbook_with_the_same_type_and_choices(name, question):
    entry, _ = TEMPLATES[name]
    options = playbook_spec(entry)
    variable = question["variable"]
    missing = sorted({"question_name", "variable", "type", "required"} - set(question))
    assert missing == [], "%s: the survey question for %s lacks %s, which AWX requires" % (name, variable, missing)
    assert variable in options, "%s asks for %s, which %s does not accept (playbooks/vars/argument_specs.yml)" % (
        name, variable, entry["playbook"])
    option = options[variable]
    assert question["type"] in SURVEY_TYPES, "%s: unknown survey type %s" % (name, question["type"])
    assert SURVEY_TYPES[question["type"]] == option.get("type", "str"), \
        "%s: %s is a %s question but the playbook takes a %s" % (name, variable, question["type"], option.get("type"))
    if question["type"] in ("multiplechoice", "multiselect"):
        assert question["choices"] == option.get("choices"), \
            "%s: %s offers %s, the playbook accepts %s" % (name, variable, question["choices"], option.get("choices"))
    else:
        assert "choices" not in option, "%s: %s is free text but the playbook accepts only %s" % (
            name, variable, option["choices"])
    if "default" in question:
        assert question["default"] in question.get("choices", [question["default"]])
    if option.get("required"):
        assert question.get("required"), "%s: %s is required by the playbook but optional in the survey" % (
            name, variable)


@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_every_required_input_of_a_playbook_is_asked_or_set_by_its_template(name):
    entry, env = TEMPLATES[name]
    options = playbook_spec(entry)
    given = {q["variable"] for q in entry.get("survey", [])}
    if "environment_var" in entry:
        var = entry["environment_var"]
        assert var in options, "%s sets %s, which %s does not accept" % (name, var, entry["playbook"])
        assert env in options[var].get("choices", [env]), "%s sets %s=%s, not one of %s" % (
            name, var, env, options[var]["choices"])
        given.add(var)
    missing = sorted(n for n, o in options.items() if o.get("required") and n not in given)
    assert missing == [], "%s never gives %s the required %s" % (name, entry["playbook"], missing)


@pytest.mark.parametrize("playbook", sorted({e["playbook"] for e in OBJECTS["edp_awx_job_templates"]}))
def test_every_playbook_with_inputs_validates_them_against_its_entry(playbook):
    """The survey test above is worth something only if the playbook enforces the same spec."""
    name = pathlib_stem(playbook)
    if not PLAYBOOK_SPECS[name].get("options"):
        return
    text = (REPO / playbook).read_text()
    assert "ansible.builtin.validate_argument_spec" in text and "playbook_input_specs.%s.options" % name in text, \
        "%s does not validate its extra variables against argument_specs.%s" % (playbook, name)


# --- workflows --------------------------------------------------------------------------------

WORKFLOWS = OBJECTS["edp_awx_workflows"]


def parents(workflow):
    result = {}
    for node in workflow["nodes"]:
        for child in node.get("success", []):
            result.setdefault(child, []).append(node["identifier"])
    return result


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=[w["name"] for w in WORKFLOWS])
def test_every_workflow_node_names_an_existing_template_or_is_an_approval(workflow):
    identifiers = [n["identifier"] for n in workflow["nodes"]]
    assert len(identifiers) == len(set(identifiers)), "duplicate node identifiers in %s" % workflow["name"]
    for node in workflow["nodes"]:
        kinds = sorted({"template", "project", "approval"} & set(node))
        assert len(kinds) == 1, "%s: a node runs a template, updates the project or is an approval" % node
        if "project" in node:
            assert node["project"] == OBJECTS["edp_awx_project"]["name"], "%s updates %s, which is not the project" % (
                node["identifier"], node["project"])
        if "template" in node:
            assert node["template"] in TEMPLATES, "%s runs %s, which no job template is" % (
                node["identifier"], node["template"])
            entry, _ = TEMPLATES[node["template"]]
            asked = {q["variable"] for q in entry.get("survey", [])}
            for variable in node.get("extra_data", {}):
                assert variable in asked, "%s passes %s, which %s neither asks nor accepts on launch" % (
                    node["identifier"], variable, node["template"])
        for child in node.get("success", []):
            assert child in identifiers, "%s leads to %s, which is not a node" % (node["identifier"], child)


def ancestors(workflow, identifier):
    """The nodes that must have succeeded before this one runs (each node has one parent)."""
    by_id = {n["identifier"]: n for n in workflow["nodes"]}
    up = parents(workflow)
    chain = []
    while identifier in up:
        [identifier] = up[identifier]
        chain.append(by_id[identifier])
    return chain


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=[w["name"] for w in WORKFLOWS])
def test_a_promotion_runs_only_after_its_source_environment_was_deployed_and_drilled(workflow):
    multiple = sorted(child for child, ps in parents(workflow).items() if len(ps) > 1)
    assert multiple == [], "nodes with several parents run when any one succeeds: %s" % multiple
    promotions = [n for n in workflow["nodes"] if n.get("template", "").endswith("-promote")]
    assert promotions, "%s promotes nothing" % workflow["name"]
    for node in promotions:
        source = node["extra_data"]["promote_from"]
        before = [n.get("template") for n in ancestors(workflow, node["identifier"])]
        for needed in ("edp-%s-site" % source, "edp-%s-dr_drill" % source):
            assert needed in before, "%s runs without %s having succeeded first" % (node["identifier"], needed)
        target = TEMPLATES[node["template"]][1]
        if target == "prod":
            assert any("approval" in n for n in ancestors(workflow, node["identifier"])), \
                "the promotion to prod runs without an approval"


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=[w["name"] for w in WORKFLOWS])
def test_a_job_after_a_publishing_one_runs_on_the_project_updated_in_between(workflow):
    """A promotion pushes its commit (publish: true); the job after it must run on a project updated
    since, or it deploys the images of before the promotion."""
    by_id = {n["identifier"]: n for n in workflow["nodes"]}
    for node in workflow["nodes"]:
        if "template" in node and TEMPLATES[node["template"]][0].get("publish"):
            for child in node.get("success", []):
                assert "project" in by_id[child], "%s runs right after %s, on the project without its commit" % (
                    child, node["identifier"])


def test_templates_that_change_the_inventories_publish_it_and_their_playbooks_accept_it():
    writers = {"playbooks/onboard.yml", "playbooks/promote.yml"}
    for name, (entry, _) in TEMPLATES.items():
        assert bool(entry.get("publish")) == (entry["playbook"] in writers), \
            "%s: publish must be set exactly on the templates whose playbook writes inventories" % name
        if entry.get("publish"):
            options = playbook_spec(entry)
            assert {"publish_repository", "publish_branch"} <= set(options), entry["playbook"]
    task = awx_task("job_template")
    assert "edp_awx_publish_credential" in task["credentials"]
    assert OBJECTS["edp_awx_publish_credential"] in [c["name"] for c in OBJECTS["edp_awx_credentials"]]


def test_the_promotion_workflow_deploys_and_drills_every_environment():
    [workflow] = [w for w in WORKFLOWS if w["name"] == "edp-promotion"]
    run = {n.get("template") for n in workflow["nodes"]}
    order = ["dev", "test", "staging", "prod"]
    missing = sorted("edp-%s-%s" % (env, what) for env in order for what in ("site", "dr_drill")
                     if "edp-%s-%s" % (env, what) not in run)
    assert missing == []


# --- schedules, credentials ------------------------------------------------------------------

def test_every_schedule_runs_a_declared_template_and_every_environment_is_drilled_nightly():
    drilled = set()
    for schedule in OBJECTS["edp_awx_schedules"]:
        for env in schedule["environments"]:
            name = "edp-%s-%s" % (env, schedule["template"])
            assert name in TEMPLATES, "schedule %r runs %s, which no job template is" % (schedule["name"], name)
            if schedule["template"] == "dr_drill" and "FREQ=DAILY" in schedule["rrule"]:
                drilled.add(env)
    assert drilled == set(OBJECTS["edp_awx_environments"]), "environments without a nightly drill"
    assert any(s["template"] == "backup" for s in OBJECTS["edp_awx_schedules"]), "no scheduled backup verification"


def test_credentials_name_declared_types_and_every_template_a_declared_credential():
    types = {t["name"] for t in OBJECTS["edp_awx_credential_types"]} | {"Vault"}  # Vault: AWX's own
    credentials = {c["name"]: c for c in OBJECTS["edp_awx_credentials"]}
    for credential in credentials.values():
        assert credential["credential_type"] in types, credential
        assert set(credential) <= {"name", "credential_type", "description"}, \
            "a credential's inputs never live in the repository: %s" % credential["name"]
    for env in OBJECTS["edp_awx_environments"]:
        for name in OBJECTS["edp_awx_environment_credentials"][env]:
            assert name in credentials, "%s's templates use %s, which is not declared" % (env, name)


def test_credential_types_inject_what_the_apply_path_and_the_inventories_read():
    # What reads the injected environment: the apply path, and git through publishing's askpass.
    kube = "\n".join(p.read_text() for p in (REPO / "plugins" / "module_utils" / "kube.py",
                                           REPO / "playbooks" / "files" / "git-askpass"))
    inventories = "\n".join(p.read_text() for p in (REPO / "inventories").rglob("*.yml"))
    for credential_type in OBJECTS["edp_awx_credential_types"]:
        injectors = credential_type["injectors"]
        fields = {f["id"] for f in credential_type["inputs"]["fields"]}
        for env_var in injectors.get("env", {}):
            assert 'os.environ.get("%s")' % env_var in kube or "${%s:-" % env_var in kube, \
                "%s injects %s, which neither the apply path nor git-askpass reads" % (
                credential_type["name"], env_var)
        for variable in injectors.get("extra_vars", {}):
            assert "{{ %s }}" % variable in inventories, "%s injects %s, which no inventory reads" % (
                credential_type["name"], variable)
        used = set(re.findall(r"\{\{\s*(\w+)\s*\}\}", yaml.safe_dump(injectors))) - {"tower"}
        assert used <= fields, "%s's injectors use undeclared inputs %s" % (credential_type["name"], used - fields)


# --- awx.awx arguments ------------------------------------------------------------------------

def _literal(node):
    if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "dict":
        return {kw.arg: _literal(kw.value) for kw in node.keywords}
    try:
        return ast.literal_eval(node)
    except ValueError:
        return None  # a fallback or a call: not needed here


def module_argument_spec(module):
    """The module's argument_spec (as main() builds it) plus the controller's auth options."""
    path = AWX_COLLECTION / "plugins" / "modules" / ("%s.py" % module)
    assert path.is_file(), "awx.awx.%s is not a module of the pinned awx.awx" % module
    spec = {}
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "argument_spec":
            spec = _literal(node.value)
    assert spec, "no argument_spec found in %s" % path
    api = ast.parse((AWX_COLLECTION / "plugins" / "module_utils" / "controller_api.py").read_text())
    for node in ast.walk(api):
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "AUTH_ARGSPEC":
            spec.update(_literal(node.value))
    return spec


PYTHON_TYPES = {"str": str, "bool": bool, "int": int, "dict": dict, "list": list}


def test_awx_awx_is_pinned_to_the_version_the_arguments_are_checked_against():
    assert (AWX_COLLECTION / "MANIFEST.json").is_file(), "run `make test` (it fetches awx.awx)"
    import json

    version = json.loads((AWX_COLLECTION / "MANIFEST.json").read_text())["collection_info"]["version"]
    [pinned] = [c for c in load(REPO / "awx" / "requirements.yml")["collections"] if c["name"] == "awx.awx"]
    assert pinned["version"] == version, "awx/requirements.yml pins %s, the tests check %s" % (
        pinned["version"], version)


AWX_TASKS = [(t["name"], key.split(".")[-1], t[key]) for t in tasks() for key in t if key.startswith("awx.awx.")]


@pytest.mark.parametrize("name,module,args", AWX_TASKS, ids=[t[0] for t in AWX_TASKS])
def test_awx_task_arguments_are_valid_for_the_pinned_awx_awx(name, module, args):
    assert AWX_COLLECTION.is_dir(), "run `make test` (it fetches awx.awx)"
    spec = module_argument_spec(module)
    aliases = {alias: real for real, option in spec.items() for alias in (option or {}).get("aliases", [])}
    unknown = sorted(a for a in args if a not in spec and a not in aliases)
    assert unknown == [], "%s: awx.awx.%s has no option %s" % (name, module, unknown)
    missing = sorted(o for o, option in spec.items() if (option or {}).get("required") and o not in args)
    assert missing == [], "%s: awx.awx.%s requires %s" % (name, module, missing)
    for arg, value in args.items():
        option = spec[aliases.get(arg, arg)] or {}
        if isinstance(value, str) and "{{" in value:
            continue  # templated: its value is data, checked above
        expected = PYTHON_TYPES.get(option.get("type", "str"))
        if expected is not None:
            assert isinstance(value, expected), "%s: %s must be a %s" % (name, arg, option.get("type", "str"))
        if option.get("choices"):
            assert value in option["choices"], "%s: %s=%r is not one of %s" % (name, arg, value, option["choices"])


def test_every_kind_of_awx_object_in_the_data_is_applied():
    """A list added to objects.yml but looped over by no task would never reach AWX."""
    text = (REPO / "awx" / "configure.yml").read_text()
    lists = sorted(k for k, v in OBJECTS.items() if isinstance(v, list) and k != "edp_awx_environments")
    unused = [k for k in lists if "{{ %s" % k not in text]
    assert unused == [], "objects.yml lists that configure.yml never applies: %s" % unused
