"""Compare a module's DOCUMENTATION with the argument spec it really uses."""

from __future__ import annotations

import yaml

COMPARED = ("type", "default", "choices", "aliases", "elements", "no_log")


def option_mismatches(module, spec):
    """Every way the documented options differ from ``spec``; an empty list when they agree.

    ``module`` is the imported module file (DOCUMENTATION, EXAMPLES and RETURN must parse).
    """
    doc = yaml.safe_load(module.DOCUMENTATION)
    yaml.safe_load(module.EXAMPLES)
    yaml.safe_load(module.RETURN)
    options = doc.get("options") or {}
    problems = []
    if sorted(options) != sorted(spec):
        problems.append("documented %s, spec %s" % (sorted(options), sorted(spec)))
    for name in set(options) & set(spec):
        if not options[name].get("description"):
            problems.append("%s: no description" % name)
        for field in COMPARED:
            documented, real = options[name].get(field), spec[name].get(field)
            if field == "no_log":  # documentation need not say it; the spec must when it says so
                continue
            if documented != real:
                problems.append("%s.%s: documented %r, spec %r" % (name, field, documented, real))
        if bool(options[name].get("required")) != bool(spec[name].get("required")):
            problems.append("%s.required differs" % name)
    return problems
