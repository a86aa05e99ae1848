# Copyright: edp.platform contributors
# Apache License 2.0 (see LICENSE)
"""Whether the tenant's supervisord answered a ``supervisorctl status`` (the local target's roles)."""

from __future__ import annotations

# supervisorctl status: 0 running, 3 not running, 4 no such program; a supervisord that is not
# there answers neither, and says why on stdout.
_ANSWERED = (0, 3, 4)
_DOWN = ("no such file", "refused connection")


def supervisord_answers(result):
    """True when the registered result of ``supervisorctl ... status NAME`` came from a running supervisord."""
    result = result or {}
    stdout = result.get("stdout") or ""
    return result.get("rc", 1) in _ANSWERED and not any(text in stdout for text in _DOWN)


class FilterModule:
    def filters(self):
        return {"supervisord_answers": supervisord_answers}
