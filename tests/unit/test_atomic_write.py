"""module_utils/atomic_write.py: the one way the collection replaces a file."""

import os
import stat

import pytest

from ansible_collections.edp.platform.plugins.module_utils import atomic_write
from ansible_collections.edp.platform.plugins.module_utils.atomic_write import write_atomically


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_the_file_holds_the_new_content_and_its_mode(tmp_path):
    path = tmp_path / "a.yaml"
    path.write_text("old\n")
    write_atomically(str(path), "new ✓\n", mode=0o640)
    assert path.read_text(encoding="utf-8") == "new ✓\n"
    assert mode(path) == 0o640
    assert os.listdir(tmp_path) == ["a.yaml"]


def test_without_a_mode_the_umask_decides_as_open_would(tmp_path):
    old = os.umask(0o027)
    try:
        write_atomically(str(tmp_path / "b"), b"\x00\x01")
    finally:
        os.umask(old)
    assert mode(tmp_path / "b") == 0o640
    assert (tmp_path / "b").read_bytes() == b"\x00\x01"


def test_a_private_file_is_never_readable_by_others_not_even_before_the_rename(tmp_path, monkeypatch):
    seen = []
    real_replace = os.replace

    def replace(source, target):
        seen.append(mode(source))
        real_replace(source, target)

    monkeypatch.setattr(atomic_write.os, "replace", replace)
    write_atomically(str(tmp_path / "secret.yaml"), "token: x\n", mode=0o600)
    assert seen == [0o600]
    assert mode(tmp_path / "secret.yaml") == 0o600


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    path = tmp_path / "manifest.json"
    path.write_text("{}\n")

    def broken(*_):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(atomic_write.os, "replace", broken)
    with pytest.raises(OSError, match="No space left"):
        write_atomically(str(path), "{\"new\": 1}\n", durable=True)
    assert path.read_text() == "{}\n"
    assert os.listdir(tmp_path) == ["manifest.json"]
