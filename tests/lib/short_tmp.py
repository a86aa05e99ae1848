"""Short temporary folders for the TMPDIR of the Ansible runs the tests start.

ansible-core's controller binds a Unix socket below $TMPDIR, and a socket's path may not pass 107
bytes; pytest's per-test folders (longer still under pytest-xdist) can. These live in the system's
temporary folder and are removed when the test process ends."""

import atexit
import pathlib
import shutil
import tempfile


def short_tmpdir(prefix="edp-"):
    path = pathlib.Path(tempfile.mkdtemp(prefix=prefix))
    atexit.register(shutil.rmtree, path, True)
    return path
