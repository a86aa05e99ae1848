# Copyright: edp.platform contributors
# Apache License 2.0 (see LICENSE)
"""Replace a file in one step: a reader sees the old file or the new one, never half of one.

The one way the collection writes a file that something else may read meanwhile: rendered
manifests, dump manifests, the files module's files and the compiled-template cache.
"""

from __future__ import annotations

import os
import tempfile


def write_atomically(path, data, mode=None, uid=-1, gid=-1, durable=False):
    """Write ``data`` (str as UTF-8, or bytes) to ``path`` through a new file in the same folder,
    renamed over ``path``.

    The new file exists with mode 0600 from its first moment (mkstemp); it then gets ``mode`` (None:
    0666 less the umask, what ``open()`` would give), and ``uid``/``gid`` when not -1, before the
    rename, so a private file is never readable by others, not even briefly. ``durable`` syncs the
    data to disk before the rename (a crash then leaves the old file or the whole new one). On any
    failure the new file is removed and the error raised; ``path`` is untouched.
    """
    if isinstance(data, str):
        data = data.encode("utf-8")
    folder = os.path.dirname(os.path.abspath(path))
    fd, temporary = tempfile.mkstemp(dir=folder, prefix=".%s." % os.path.basename(path), suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            if uid != -1 or gid != -1:
                os.fchown(handle.fileno(), uid, gid)
            os.fchmod(handle.fileno(), _mode(mode))
            if durable:
                os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        if os.path.lexists(temporary):
            os.unlink(temporary)
        raise
    return path


def _mode(mode):
    if mode is not None:
        return mode
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask
