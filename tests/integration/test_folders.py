"""The folders module (many folders in one call), run by Ansible as the roles run it: it makes
what is missing, sets what differs, changes nothing on a second run or in check mode, and
refuses bad entries before it makes any folder."""

import os

import pytest

from conftest import failure_messages, mode_owner, run_module


def run(ansible, tmp_path, folders, *args, **kwargs):
    return run_module(ansible, tmp_path, "folders", {"folders": folders}, *args, **kwargs)

def test_it_makes_what_is_missing_sets_what_differs_and_then_changes_nothing(ansible_offline, tmp_path):
    tree = tmp_path / "home"
    (tree / "logs").mkdir(parents=True, mode=0o777)
    folders = [{"path": str(tree / "data" / "postgres"), "mode": "0700", "owner": "nobody", "group": "nogroup"},
               {"path": str(tree / "logs"), "mode": "0750"}]
    result, made = run(ansible_offline, tmp_path, folders)
    assert result.rc == 0, failure_messages(result)
    assert made["changed"] and made["changed_folders"] == [str(tree / "data" / "postgres"), str(tree / "logs")]
    nobody = (65534, 65534)
    assert mode_owner(tree / "data" / "postgres") == ("0700",) + nobody
    assert mode_owner(tree / "logs")[0] == "0750"
    result, made = run(ansible_offline, tmp_path, folders)
    assert result.rc == 0 and made["changed"] is False and made["changed_folders"] == []


def test_check_mode_reports_and_makes_nothing(ansible_offline, tmp_path):
    target = tmp_path / "new" / "folder"
    result, made = run(ansible_offline, tmp_path, [{"path": str(target), "mode": "0755"}], "--check", "--diff")
    assert result.rc == 0, failure_messages(result)
    assert made["changed"] and made["diff"]["before"] == {str(target): "absent"}
    assert not (tmp_path / "new").exists()


@pytest.mark.parametrize("entry, message", [
    ({"mode": "0750", "owner": "no-such-user-edp"}, "no user 'no-such-user-edp' on this host"),
    ({"mode": "0750", "group": "no-such-group-edp"}, "no group 'no-such-group-edp' on this host"),
    ({"mode": "750x"}, "mode '750x' is not an octal mode such as 0750"),
    ({"mode": "17777"}, "mode '17777' is not an octal mode such as 0750"),
])
def test_a_bad_entry_is_refused_before_any_folder_is_made(ansible_offline, tmp_path, entry, message):
    first = tmp_path / "first"
    result, made = run(ansible_offline, tmp_path, [{"path": str(first), "mode": "0755"},
                                                   dict(entry, path=str(tmp_path / "second"))])
    assert result.rc != 0
    assert made["msg"] == "folders: %s: %s" % (tmp_path / "second", message)
    assert not first.exists(), "a folder was made before the bad entry was found"


def test_a_file_in_the_way_is_an_error(ansible_offline, tmp_path):
    (tmp_path / "file").write_text("x")
    result, made = run(ansible_offline, tmp_path, [{"path": str(tmp_path / "file"), "mode": "0755"}])
    assert result.rc != 0 and made["msg"] == "folders: %s exists and is not a folder" % (tmp_path / "file")


def test_in_check_mode_a_user_not_made_yet_is_a_change_not_an_error(ansible_offline, tmp_path):
    folder = tmp_path / "existing"
    folder.mkdir(mode=0o750)
    os.chmod(folder, 0o750)
    result, made = run(ansible_offline, tmp_path, [{"path": str(folder), "mode": "0750", "owner": "no-such-user-edp"}],
                       "--check")
    assert result.rc == 0, failure_messages(result)
    assert made["changed"] and made["changed_folders"] == [str(folder)]
