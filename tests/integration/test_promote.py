"""playbooks/promote.yml: image tags move one environment along dev -> test -> staging -> prod."""

import shutil

import yaml

from conftest import REPO, failure_messages


def images(inventories, env):
    return yaml.safe_load((inventories / env / "group_vars" / "tenants" / "images.yml").read_text())["edp_images"]


def promote(ansible, inventories, source, target, *args):
    return ansible.playbook("playbooks/promote.yml", "local", *args, vault=False, extra_vars={
        "promote_from": source, "promote_to": target, "promote_inventories": str(inventories)})


def copy(tmp_path):
    inventories = tmp_path / "inventories"
    shutil.copytree(REPO / "inventories", inventories)
    return inventories


def test_promotion_copies_the_tags_and_a_rerun_changes_nothing(ansible_offline, tmp_path):
    inventories = copy(tmp_path)
    assert images(inventories, "test") != images(inventories, "staging")
    run = promote(ansible_offline, inventories, "test", "staging")
    assert run.rc == 0 and run.changed() == 1, failure_messages(run)
    assert images(inventories, "staging") == images(inventories, "test")
    assert promote(ansible_offline, inventories, "test", "staging").changed() == 0


def test_check_mode_promotes_nothing(ansible_offline, tmp_path):
    inventories = copy(tmp_path)
    before = images(inventories, "staging")
    run = promote(ansible_offline, inventories, "test", "staging", "--check")
    assert run.rc == 0 and run.changed() == 1
    assert images(inventories, "staging") == before


def test_skipping_an_environment_is_refused(ansible_offline, tmp_path):
    inventories = copy(tmp_path)
    run = promote(ansible_offline, inventories, "dev", "prod")
    assert run.rc != 0
    assert "promote_from and promote_to must be neighbours" in failure_messages(run)
    assert images(inventories, "prod") == images(REPO / "inventories", "prod")


def test_an_unpinned_image_is_not_promoted(ansible_offline, tmp_path):
    inventories = copy(tmp_path)
    path = inventories / "staging" / "group_vars" / "tenants" / "images.yml"
    path.write_text("---\nedp_images:\n  airflow: registry.example.com/edp/airflow:latest\n")
    run = promote(ansible_offline, inventories, "staging", "prod")
    assert run.rc != 0
    assert "edp_images['airflow']" in failure_messages(run)
    assert images(inventories, "prod") == images(REPO / "inventories", "prod")
