"""The apply path's cache of compiled templates (plugins/plugin_utils/compiled_templates.py):
a later process loads what an earlier one compiled and renders the same; a changed source, a
damaged entry or a folder others may write to never hands back wrong or foreign code."""

import os

import pytest
from jinja2 import Environment, meta

from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar, trust_as_template

from ansible_collections.edp.platform.plugins.plugin_utils import compiled_templates as ct

SOURCE = "{% for n in names %}{{ n | upper }}-{{ suffix }}\n{% endfor %}"
VARIABLES = {"names": ["a", "b"], "suffix": "x"}


def templar(cache, variables=VARIABLES):
    """An Ansible templar whose environment compiles through ``cache``."""
    t = Templar(loader=DataLoader(), variables=variables)
    assert cache.install(t._engine.environment)
    return t


def render(cache, source=SOURCE, variables=VARIABLES):
    return templar(cache, variables).template(trust_as_template(source))


@pytest.fixture
def folder(tmp_path):
    path = tmp_path / "cache"
    path.mkdir(mode=0o700)
    return path


def test_a_later_process_loads_the_code_an_earlier_one_compiled_and_renders_the_same(folder):
    first = ct.CompiledTemplates(str(folder))
    expected = render(first)
    assert expected == "A-x\nB-x\n"
    assert (first.compiles, first.loads) == (1, 0)
    assert render(first) == expected and first.hits == 1  # the same process: from memory
    later = ct.CompiledTemplates(str(folder))  # a new worker: nothing in memory
    assert render(later) == expected
    assert (later.compiles, later.loads) == (0, 1)


def test_a_changed_source_or_other_variables_are_never_answered_from_the_cache(folder):
    cache = ct.CompiledTemplates(str(folder))
    assert render(cache) == "A-x\nB-x\n"
    assert render(cache, variables={"names": ["c"], "suffix": "y"}) == "C-y\n"  # same code, new values
    assert render(cache, SOURCE.replace("upper", "lower")) == "a-x\nb-x\n"
    assert cache.compiles == 2


def test_a_damaged_entry_is_compiled_again(folder):
    render(ct.CompiledTemplates(str(folder)))
    [entry] = [p for p in folder.iterdir() if p.suffix == ".cache"]
    entry.write_bytes(entry.read_bytes()[:20])  # cut short, as a full disk would leave it
    cache = ct.CompiledTemplates(str(folder))
    assert render(cache) == "A-x\nB-x\n"
    assert (cache.compiles, cache.loads) == (1, 0)


@pytest.mark.parametrize("mode", [0o770, 0o777, 0o755 | 0o002])
def test_a_folder_others_may_write_to_is_never_read(tmp_path, mode):
    """What the folder holds is loaded as code: from a folder others can write to, someone could
    plant theirs. The cache then keeps to memory and writes nothing there."""
    folder = tmp_path / "shared"
    folder.mkdir()
    os.chmod(folder, mode)
    cache = ct.CompiledTemplates(str(folder))
    assert render(cache) == "A-x\nB-x\n"
    assert list(folder.iterdir()) == []


def test_a_link_to_a_folder_is_refused(tmp_path, folder):
    link = tmp_path / "link"
    link.symlink_to(folder)
    cache = ct.CompiledTemplates(str(link))
    render(cache)
    assert list(folder.iterdir()) == []


def test_an_empty_folder_setting_keeps_the_cache_in_memory(monkeypatch, tmp_path):
    monkeypatch.setenv("EDP_TEMPLATE_CACHE_DIR", "")
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    cache = ct.CompiledTemplates()
    render(cache)
    render(cache)
    assert (cache.compiles, cache.hits) == (1, 1) and list(tmp_path.iterdir()) == []


def test_an_environment_that_generates_other_code_gets_its_own_entry(folder):
    """Jinja's generated code depends on the environment's settings (here autoescape): code
    compiled for one is never handed to an environment that would generate other code."""
    source = "{{ value }}"
    cache = ct.CompiledTemplates(str(folder))
    for environment, expected in ((Environment(), "<b>"), (Environment(autoescape=True), "&lt;b&gt;")):
        assert cache.install(environment)
        assert environment.from_string(source).render(value="<b>") == expected
    assert cache.compiles == 2


def test_installing_twice_wraps_once(folder):
    cache = ct.CompiledTemplates(str(folder))
    environment = Templar(loader=DataLoader(), variables={})._engine.environment
    assert cache.install(environment) is True
    assert cache.install(environment) is False


def test_names_are_the_variables_jinja_finds_and_a_later_process_reads_them(folder):
    parser = Environment()
    source = "{% set local = 1 %}{{ a }}{{ b.c | default(d) }}{% for i in e %}{{ i }}{{ local }}{% endfor %}"
    expected = meta.find_undeclared_variables(parser.parse(source))
    assert ct.CompiledTemplates(str(folder)).names(parser, source) == expected == {"a", "b", "d", "e"}

    class NoParse(Environment):
        def parse(self, *args, **kwargs):
            raise AssertionError("parsed again instead of read from the cache")

    assert ct.CompiledTemplates(str(folder)).names(NoParse(), source) == expected
