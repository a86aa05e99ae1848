"""The tenant role on the local target: the tenant's home on this host."""

import stat

from conftest import failure_messages

DIRS = ["config", "data", "logs", "backups", "dags"]


def local(ansible_offline, root, *args):
    return ansible_offline.playbook("site.yml", "local", *args, vault=False, env={"EDP_LOCAL_ROOT": root})


def test_local_target_creates_the_tenant_home(ansible_offline, tmp_path):
    run = local(ansible_offline, tmp_path)
    assert run.rc == 0, failure_messages(run)
    for name in DIRS:
        path = tmp_path / "demo" / name
        assert path.is_dir(), path
        assert stat.S_IMODE(path.stat().st_mode) == 0o750, path


def test_local_rerun_changes_nothing(ansible_offline, tmp_path):
    local(ansible_offline, tmp_path)
    run = local(ansible_offline, tmp_path)
    assert run.rc == 0 and run.changed() == 0


def test_local_check_mode_creates_nothing(ansible_offline, tmp_path):
    run = local(ansible_offline, tmp_path, "--check")
    assert run.rc == 0 and run.changed("demo") == 1
    assert not (tmp_path / "demo").exists()
