"""Tenants that resolve to one namespace (filter namespace_collisions) and the names the collection
sets itself (plugin_utils/roles.py), which the typo check leaves alone."""

from ansible.template import trust_as_template

from ansible_collections.edp.platform.plugins.filter import namespace_collisions as nc
from ansible_collections.edp.platform.plugins.plugin_utils import roles


def test_distinct_namespaces_collide_with_nothing():
    assert nc.collisions({"a": {"edp_namespace": "a-dev"}, "b": {"edp_namespace": "b-dev"}}) == []


def test_two_tenants_in_one_namespace_are_named_with_it():
    assert nc.collisions({"marketing": {"edp_namespace": "finance-dev"}, "finance": {"edp_namespace": "finance-dev"}}) == [
        "tenants finance and marketing both resolve to the namespace finance-dev (edp_namespace): give each its own "
        "edp_namespace (it defaults to <edp_tenant>-<edp_environment>)"]


def test_three_tenants_are_all_named():
    [message] = nc.collisions({t: {"edp_namespace": "x"} for t in ("c", "a", "b")})
    assert message.startswith("tenants a, b and c all resolve to the namespace x ")


def test_other_clusters_do_not_collide():
    assert nc.collisions({"a": {"edp_namespace": "x", "edp_kube_context": "east"},
                          "b": {"edp_namespace": "x", "edp_kube_context": "west"}}) == []


def test_local_tenants_collide_on_their_home():
    local = {"edp_target": "local", "edp_local_root": "/var/lib/edp/", "edp_tenant": "demo"}
    assert nc.collisions({"demo": dict(local), "demo2": dict(local)}) == [
        "tenants demo and demo2 both resolve to the home /var/lib/edp/demo on this host (edp_local_root, edp_tenant): "
        "give each its own edp_tenant"]


def test_resolve_uses_the_edp_defaults_under_the_hosts_variables():
    assert nc.resolve("finance", {"inventory_hostname": "finance", "edp_environment": "dev"})["edp_namespace"] == "finance-dev"
    got = nc.resolve("marketing", {"inventory_hostname": "marketing", "edp_environment": "prod",
                                   "edp_tenant": trust_as_template("{{ 'fin' ~ 'ance' }}")})
    assert got["edp_namespace"] == "finance-prod" and got["edp_target"] == "kubernetes"



def test_a_mapping_of_inventory_variables_resolves_their_templates_as_hostvars_would():
    """onboard.yml reads the inventory's files for a tenant not in the inventory yet: their strings
    are templates there, as in the inventory (here a host_vars edp_namespace built from the tenant)."""
    variables = {"finance": {"edp_environment": "dev", "edp_namespace": "{{ 'sa' ~ 'les' }}-dev"},
                 "sales": {"edp_environment": "dev"}}
    assert nc.namespace_collisions(["finance", "sales"], variables) == [
        "tenants finance and sales both resolve to the namespace sales-dev (edp_namespace): give each its own "
        "edp_namespace (it defaults to <edp_tenant>-<edp_environment>)"]
    assert nc.namespace_collisions(["sales"], variables) == []

def test_the_platform_prefixes_are_edp_and_every_role():
    assert set(roles.prefixes()) == {"edp_"} | {r + "_" for r in roles.all_roles()}
    assert {"tenant_", "postgres_", "airflow_", "dr_"} <= set(roles.prefixes())


def test_names_the_collection_sets_itself_are_found():
    names = roles.collection_set_names()
    # play vars of site.yml, register and set_fact in roles' tasks, task vars
    assert {"edp_roles", "postgres_status", "dr_dump", "dr_job", "dr_job_pod"} <= names
    assert "postgres_storage_size" not in names
