"""`molecule test` works, as users expect: the kubernetes scenario against the emulator."""

import os
import subprocess

import yaml

from conftest import BIN, COLLECTIONS, REPO
from lib.short_tmp import short_tmpdir


def test_molecule_kubernetes_scenario_passes(tmp_path):
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(COLLECTIONS), HOME=str(tmp_path), TMPDIR=str(short_tmpdir()),
               ANSIBLE_NOCOLOR="1", NO_COLOR="1", PATH="%s:%s" % (BIN, os.environ.get("PATH", "")))
    proc = subprocess.run([str(BIN / "molecule"), "test", "-s", "kubernetes"], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=600)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-5000:]
    recap = output[output.rindex("SCENARIO RECAP"):]
    # Every action of the scenario's test sequence ran and succeeded (none skipped or failed).
    scenario = yaml.safe_load((REPO / "extensions" / "molecule" / "kubernetes" / "molecule.yml").read_text())
    actions = len(scenario["scenario"]["test_sequence"])
    assert "successful=%d" % actions in recap and "failed=0" in recap, recap
