"""Publishing an inventory change (playbooks/tasks/publish-*.yml): onboard.yml and promote.yml
with publish_repository make their change in a fresh clone of the branch, commit it and push it,
as an AWX job must (its own copy of the project is seen by no later job). The remote here is a
bare repository on disk: git speaks the same protocol to it as to a server, without a login."""

import os
import pathlib
import shutil
import subprocess

import pytest
import yaml

from conftest import REPO, failure_messages

ASKPASS = REPO / "playbooks" / "files" / "git-askpass"


def git(*args, cwd=None):
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


@pytest.fixture
def remote(tmp_path):
    """A bare repository whose main holds a copy of inventories/, as the project's repository does."""
    work = tmp_path / "seed"
    shutil.copytree(REPO / "inventories", work / "inventories")
    git("init", "--quiet", "--initial-branch", "main", cwd=work)
    git("add", "inventories", cwd=work)
    git("-c", "user.name=seed", "-c", "user.email=seed@localhost", "commit", "--quiet", "-m", "seed", cwd=work)
    bare = tmp_path / "remote.git"
    git("clone", "--quiet", "--bare", str(work), str(bare))
    return bare


def log(bare):
    return git("--git-dir", str(bare), "log", "--format=%an <%ae>|%s", "main").splitlines()


def show(bare, path):
    return git("--git-dir", str(bare), "show", "main:" + path)


def onboard(ansible, bare, tenant, *args, **extra):
    return ansible.playbook("playbooks/onboard.yml", "local", *args, vault=False, extra_vars={
        "tenant": tenant, "env": "dev", "publish_repository": "file://%s" % bare, **extra})


def test_onboarding_pushes_one_commit_that_adds_the_tenant_and_leaves_this_checkout_alone(ansible_offline, remote):
    ours = (REPO / "inventories" / "dev" / "hosts.yml").read_bytes()
    before = show(remote, "inventories/dev/hosts.yml")
    run = onboard(ansible_offline, remote, "sales", awx_user_name="Ada Admin", awx_user_email="ada@example.com")
    assert run.rc == 0, failure_messages(run)
    assert log(remote) == ["Ada Admin <ada@example.com>|onboard: add the tenant sales to dev", "seed <seed@localhost>|seed"]
    after = show(remote, "inventories/dev/hosts.yml")
    assert after.splitlines() == before.splitlines() + ["        sales:"]
    assert (REPO / "inventories" / "dev" / "hosts.yml").read_bytes() == ours
    # The clone is gone.
    assert not list(ansible_offline.run_tmp.rglob("edp-publish-*"))


def test_a_rerun_pushes_nothing_and_check_mode_pushes_nothing(ansible_offline, remote):
    run = onboard(ansible_offline, remote, "sales", "--check", "--diff")
    assert run.rc == 0 and run.changed() == 1, failure_messages(run)
    assert len(log(remote)) == 1
    assert onboard(ansible_offline, remote, "sales").rc == 0
    run = onboard(ansible_offline, remote, "sales")
    assert run.rc == 0 and run.changed() == 0, failure_messages(run)
    assert len(log(remote)) == 2


def test_a_refused_push_fails_with_the_remote_s_reason(ansible_offline, remote):
    hook = remote / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'main is protected' >&2\nexit 1\n")
    hook.chmod(0o755)
    run = onboard(ansible_offline, remote, "sales")
    assert run.rc != 0
    message = failure_messages(run)
    assert "Not published: file://%s refused the push to main" % remote in message
    assert "main is protected" in message
    assert len(log(remote)) == 1


def test_a_url_with_a_password_is_refused_before_anything_is_cloned(ansible_offline, remote):
    run = onboard(ansible_offline, remote, "sales", publish_repository="https://bot:s3cret@git.example.com/edp.git")
    assert run.rc != 0
    assert ("publish_repository must not carry a password (it would show in the job's output): give the "
            "URL without it and the token in EDP_GIT_TOKEN" in failure_messages(run))


def test_a_promotion_is_pushed_to_the_branch(ansible_offline, remote):
    run = ansible_offline.playbook("playbooks/promote.yml", "local", vault=False, extra_vars={
        "promote_from": "test", "promote_to": "staging", "publish_repository": "file://%s" % remote})
    assert run.rc == 0, failure_messages(run)
    assert log(remote)[0].endswith("|promote: the images of test to staging")
    staging, test = (yaml.safe_load(show(remote, "inventories/%s/group_vars/tenants/images.yml" % env))
                     for env in ("staging", "test"))
    assert staging == test


@pytest.mark.parametrize("prompt,answer", [
    ("Username for 'https://git.example.com': ", "edp-bot"),
    ("Password for 'https://edp-bot@git.example.com': ", "tok-123"),
])
def test_askpass_answers_git_from_the_environment(prompt, answer):
    env = dict(os.environ, EDP_GIT_USERNAME="edp-bot", EDP_GIT_TOKEN="tok-123")
    done = subprocess.run([str(ASKPASS), prompt], env=env, capture_output=True, text=True, check=True)
    assert done.stdout == answer + "\n"
