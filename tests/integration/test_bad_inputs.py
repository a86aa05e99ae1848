"""A bad inventory fails before anything is written, with a message naming the variable.

Each case runs site.yml against the emulator and asserts three things: the run failed,
the failure names the variable, and the emulator received no request that writes.
"""

import shutil

import pytest

from conftest import REPO, failure_messages

CASES = [
    # (id, inventory, extra vars, text the failure must contain)
    ("namespace-not-dns1123", "dev", {"edp_namespace": "Finance_Dev"}, "edp_namespace: 'Finance_Dev' is not a DNS-1123 label"),
    ("tenant-name-not-dns1123", "dev", {"edp_tenant": "Finance"}, "edp_tenant: 'Finance' is not a DNS-1123 label"),
    ("quota-not-a-quantity", "dev", {"tenant_quota": {"requests.cpu": "2 cores"}},
     "tenant_quota['requests.cpu']: '2 cores' is not a Kubernetes quantity"),
    ("limit-not-a-quantity", "dev",
     {"tenant_limit_range": {"default": {"cpu": "1", "memory": "1 GB"}, "default_request": {"cpu": "1"},
                             "max": {"cpu": "2"}}},
     "tenant_limit_range.default['memory']"),
    ("limit-range-missing-max", "dev",
     {"tenant_limit_range": {"default": {"cpu": "1"}, "default_request": {"cpu": "1"}}},
     "missing required arguments: max found in tenant_limit_range"),
    ("latest-tag-in-prod", "prod", {"edp_images": {"airflow": "registry.example.com/edp/airflow:latest"}},
     "edp_images['airflow']: 'registry.example.com/edp/airflow:latest' uses the tag 'latest'"),
    ("untagged-image-in-staging", "staging", {"edp_images": {"spark": "registry.example.com/edp/spark"}},
     "edp_images['spark']: 'registry.example.com/edp/spark' has no tag"),
    ("placeholder-registry-password", "dev", {"tenant_registry_password": "changeme"},
     "tenant_registry_password: is a placeholder"),
    ("empty-registry-user", "dev", {"tenant_registry_username": ""}, "tenant_registry_username: is required"),
    ("unknown-target", "dev", {"edp_target": "openstack"},
     "value of edp_target must be one of: kubernetes, local, got: openstack"),
    ("unknown-pod-security-level", "dev", {"tenant_pod_security_level": "privileged"},
     "value of tenant_pod_security_level must be one of: restricted, baseline, got: privileged"),
    ("bad-label", "dev", {"edp_labels": {"cost-center": "fin 0815"}}, "edp_labels: label 'cost-center' has an invalid value"),
    ("storage-class-not-dns1123", "dev", {"edp_storage_class": "Fast_SSD"}, "edp_storage_class: 'Fast_SSD'"),
    ("quota-wrong-type", "dev", {"tenant_quota": "lots"}, "tenant_quota"),
    ("negative-wait-timeout-type", "dev", {"edp_wait_timeout": "soon"}, "edp_wait_timeout"),
    ("backup-schedule-out-of-range", "dev", {"dr_dump_schedule": "15 25 * * *"},
     "dr_dump_schedule: '15 25 * * *': the hour field '25' is not valid (0-23)"),
    ("retention-age-not-a-duration", "dev", {"dr_dump_keep_age": "two weeks"},
     "dr_dump_keep_age: 'two weeks' is not seconds or a duration"),
    ("backup-volume-only-for-one-pod", "dev", {"postgres_backup_access_mode": "ReadWriteOncePod"},
     "postgres_backup_access_mode: 'ReadWriteOncePod' is not one of ReadWriteOnce, ReadWriteMany: the dr role's"),
]


@pytest.mark.parametrize("inventory,extra_vars,expected", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_fails_before_any_write_naming_the_variable(ansible, emulator, inventory, extra_vars, expected):
    run = ansible.playbook("site.yml", inventory, extra_vars=extra_vars)
    assert run.rc != 0, "site.yml accepted %s" % extra_vars
    assert expected in failure_messages(run), failure_messages(run)
    assert emulator.writes() == [], "wrote before failing: %s" % emulator.writes()


def test_missing_vaulted_password_names_the_vault_variable(ansible, emulator):
    run = ansible.playbook("site.yml", "dev", vault=False)
    assert run.rc != 0
    assert "vault_edp_registry_password" in failure_messages(run)
    assert emulator.writes() == []


def test_one_bad_tenant_stops_every_tenant(ansible, emulator, tmp_path):
    inventory = tmp_path / "inventory"
    shutil.copytree(REPO / "inventories" / "dev", inventory)
    (inventory / "host_vars").mkdir(exist_ok=True)
    (inventory / "host_vars" / "marketing.yml").write_text("---\ntenant_quota:\n  pods: many\n")
    run = ansible.playbook("site.yml", str(inventory))
    assert run.rc != 0
    assert "marketing" in failure_messages(run) and "tenant_quota['pods']" in failure_messages(run)
    assert emulator.writes() == [], "the good tenant was applied although another one is invalid"


def test_bad_local_root_fails_before_anything_is_created(ansible_offline, tmp_path):
    run = ansible_offline.playbook("site.yml", "local", extra_vars={"edp_local_root": "relative/dir"}, vault=False)
    assert run.rc != 0
    assert "edp_local_root: 'relative/dir' is not an absolute path" in failure_messages(run)
    assert not (REPO / "relative").exists()
