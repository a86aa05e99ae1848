"""The files module (many files in one call), run by Ansible as the roles run it: it writes what
is missing or differs, changes nothing on a second run or in check mode, keeps a secret out of
its diff, replaces a symbolic link instead of following it, and refuses a bad entry - or a
content its validate command rejects - before it writes any file."""

import json
import os

import pytest

from conftest import failure_messages, mode_owner, run_module


def run(ansible, tmp_path, files, *args, **kwargs):
    return run_module(ansible, tmp_path, "files", {"files": files}, *args, **kwargs)

def test_it_writes_what_is_missing_or_differs_and_then_changes_nothing(ansible_offline, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    (home / "stale.conf").write_text("old = 1\n")
    (home / "loose.conf").write_text("same\n")
    os.chmod(home / "loose.conf", 0o666)
    (home / "kept.conf").write_text("unchanged\n")
    os.chmod(home / "kept.conf", 0o640)
    files = [{"path": str(home / "new.conf"), "content": "new = 1\n", "mode": "0640", "owner": "nobody",
              "group": "nogroup"},
             {"path": str(home / "stale.conf"), "content": "new = 2\n", "mode": "0644"},
             {"path": str(home / "loose.conf"), "content": "same\n", "mode": "0600"},
             {"path": str(home / "kept.conf"), "content": "unchanged\n", "mode": "0640"}]
    result, written = run(ansible_offline, tmp_path, files, "--diff")
    assert result.rc == 0, failure_messages(result)
    assert written["changed_files"] == [str(home / n) for n in ("new.conf", "stale.conf", "loose.conf")]
    assert (home / "new.conf").read_text() == "new = 1\n"
    assert mode_owner(home / "new.conf") == ("0640", 65534, 65534)
    assert (home / "stale.conf").read_text() == "new = 2\n"
    assert mode_owner(home / "loose.conf")[0] == "0600" and (home / "loose.conf").read_text() == "same\n"
    diffs = {d["after_header"]: d for d in written["diff"]}
    assert diffs[str(home / "stale.conf")]["before"] == "old = 1\n"
    assert diffs[str(home / "stale.conf")]["after"] == "new = 2\n"
    assert diffs[str(home / "loose.conf")]["before"] == "mode: 0666\n"
    assert sorted(os.listdir(home)) == ["kept.conf", "loose.conf", "new.conf", "stale.conf"], "a temporary file was left"
    result, written = run(ansible_offline, tmp_path, files)
    assert result.rc == 0 and written["changed"] is False and written["changed_files"] == []


def test_force_false_keeps_an_existing_content_but_sets_its_mode(ansible_offline, tmp_path):
    secret = tmp_path / "secret"
    secret.write_text("generated-once")
    os.chmod(secret, 0o644)
    files = [{"path": str(secret), "content": "another", "mode": "0600", "force": False, "secret": True}]
    result, written = run(ansible_offline, tmp_path, files)
    assert result.rc == 0, failure_messages(result)
    assert written["changed_files"] == [str(secret)]
    assert secret.read_text() == "generated-once" and mode_owner(secret)[0] == "0600"
    result, written = run(ansible_offline, tmp_path, files)
    assert written["changed"] is False


def test_check_mode_writes_nothing_and_a_secret_is_not_in_the_diff(ansible_offline, tmp_path):
    token = "s3cr3t-value-edp-%d" % os.getpid()
    files = [{"path": str(tmp_path / "token"), "content": token, "mode": "0600", "secret": True},
             {"path": str(tmp_path / "plain.conf"), "content": "a = 1\n", "mode": "0644"}]
    result, written = run(ansible_offline, tmp_path, files, "--check", "--diff")
    assert result.rc == 0, failure_messages(result)
    assert written["changed_files"] == [str(tmp_path / "token"), str(tmp_path / "plain.conf")]
    assert not (tmp_path / "token").exists() and not (tmp_path / "plain.conf").exists()
    assert token not in json.dumps(written)
    assert [d["after"] for d in written["diff"]] == ["(secret: not shown)\n", "a = 1\n"]


def test_a_symbolic_link_is_replaced_not_followed(ansible_offline, tmp_path):
    # As a user who may write to the folder would plant it, for root to write through.
    target = tmp_path / "target"
    target.write_text("precious\n")
    os.chmod(target, 0o600)
    link = tmp_path / "app.conf"
    link.symlink_to(target)
    result, written = run(ansible_offline, tmp_path, [{"path": str(link), "content": "app\n", "mode": "0644"}])
    assert result.rc == 0, failure_messages(result)
    assert not link.is_symlink() and link.read_text() == "app\n"
    assert target.read_text() == "precious\n" and mode_owner(target)[0] == "0600"


@pytest.mark.parametrize("entry, message", [
    ({"mode": "0640", "owner": "no-such-user-edp"}, "{second}: no user 'no-such-user-edp' on this host"),
    ({"mode": "0640", "group": "no-such-group-edp"}, "{second}: no group 'no-such-group-edp' on this host"),
    ({"mode": "64O"}, "{second}: mode '64O' is not an octal mode such as 0750"),
    ({"mode": "0640", "path": "{tmp}/missing/second"}, "{tmp}/missing/second: its folder does not exist"),
    ({"mode": "0640", "path": "{tmp}"}, "{tmp} is a folder"),
    ({"mode": "0640", "validate": "true"}, "{second}: validate 'true' has no %s for the file to check"),
    ({"mode": "0640", "validate": "grep -q ^ok= %s"}, "{second}: grep refused the new content: "),
])
def test_a_bad_entry_is_refused_before_any_file_is_written(ansible_offline, tmp_path, entry, message):
    first = tmp_path / "first"
    entry = {key: value.format(tmp=tmp_path) for key, value in entry.items()}
    second = dict({"path": str(tmp_path / "second"), "content": "not ok\n"}, **entry)
    result, written = run(ansible_offline, tmp_path, [{"path": str(first), "content": "x\n", "mode": "0644"}, second])
    assert result.rc != 0
    assert written["msg"] == "files: " + message.format(tmp=tmp_path, second=tmp_path / "second")
    assert not first.exists(), "a file was written before the bad entry was found"
    assert not (tmp_path / "second").exists()


def test_a_content_its_command_accepts_is_written(ansible_offline, tmp_path):
    result, written = run(ansible_offline, tmp_path, [
        {"path": str(tmp_path / "app.conf"), "content": "ok=1\n", "mode": "0644", "validate": "grep -q ^ok= %s"}])
    assert result.rc == 0, failure_messages(result)
    assert (tmp_path / "app.conf").read_text() == "ok=1\n"


def test_in_check_mode_a_user_not_made_yet_is_a_change_not_an_error(ansible_offline, tmp_path):
    path = tmp_path / "app.conf"
    path.write_text("x\n")
    os.chmod(path, 0o640)
    result, written = run(ansible_offline, tmp_path, [
        {"path": str(path), "content": "x\n", "mode": "0640", "owner": "no-such-user-edp"}], "--check")
    assert result.rc == 0, failure_messages(result)
    assert written["changed_files"] == [str(path)]


def test_check_mode_validates_with_a_command_that_is_installed_and_skips_one_that_is_not(
        ansible_offline, tmp_path):
    refused = {"path": str(tmp_path / "app.conf"), "content": "not ok\n", "mode": "0644",
               "validate": "grep -q ^ok= %s"}
    result, written = run(ansible_offline, tmp_path, [refused], "--check")
    assert result.rc != 0 and written["msg"].startswith("files: %s: grep refused" % (tmp_path / "app.conf"))
    # promtool, say, on a new host where the package would be installed by an earlier task.
    missing = dict(refused, validate="edp-no-such-validator %s")
    result, written = run(ansible_offline, tmp_path, [missing], "--check")
    assert result.rc == 0 and written["changed_files"] == [str(tmp_path / "app.conf")], failure_messages(result)
    assert not (tmp_path / "app.conf").exists()
