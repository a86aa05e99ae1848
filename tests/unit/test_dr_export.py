"""The dr role's configuration export covers what the platform applies (roles/dr/vars/main.yml)."""

import pathlib

import yaml

from ansible_collections.edp.platform.plugins.module_utils.k8s_objects import PRUNABLE

VARS = pathlib.Path(__file__).resolve().parents[2] / "roles" / "dr" / "vars" / "main.yml"


def plural(kind):
    """The resource name Kubernetes derives from a kind (networkpolicy -> networkpolicies)."""
    lower = kind.lower()
    if lower.endswith("y"):
        return lower[:-1] + "ies"
    return lower + ("es" if lower.endswith("s") else "s")


def test_the_export_lists_every_kind_the_platform_may_apply_into_a_namespace():
    exported = {(r["group"], r["resource"]) for r in yaml.safe_load(VARS.read_text())["dr_k8s_export_resources"]}
    applied = {(api.rpartition("/")[0], plural(kind)) for api, kind in PRUNABLE}
    assert exported == applied, "dr_k8s_export_resources and k8s_objects.PRUNABLE differ: %s" % sorted(
        exported ^ applied)
