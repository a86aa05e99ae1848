# Copyright: edp.platform contributors
# Apache License 2.0 (see LICENSE)
"""local_glob: the paths of the controller's host that match a shell pattern (documentation:
local_glob.yml)."""

from __future__ import annotations

import glob


def local_glob(pattern):
    """Sorted paths matching pattern, wildcards allowed in every part (unlike the fileglob
    lookup, which globs file names only)."""
    return sorted(glob.glob(pattern))


class FilterModule:
    def filters(self):
        return {"local_glob": local_glob}
