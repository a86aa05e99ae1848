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
    return _differences(doc.get("options") or {}, spec, "")


def _differences(options, spec, prefix):
    """The documented options against the spec, suboptions included (their names prefixed)."""
    problems = []
    if sorted(options) != sorted(spec):
        problems.append("%sdocumented %s, spec %s" % (prefix, sorted(options), sorted(spec)))
    for name in sorted(set(options) & set(spec)):
        where = prefix + name
        if not options[name].get("description"):
            problems.append("%s: no description" % where)
        for field in COMPARED:
            documented, real = options[name].get(field), spec[name].get(field)
            if field == "no_log":  # documentation need not say it; the spec must when it says so
                continue
            if documented != real:
                problems.append("%s.%s: documented %r, spec %r" % (where, field, documented, real))
        if bool(options[name].get("required")) != bool(spec[name].get("required")):
            problems.append("%s.required differs" % where)
        if "options" in spec[name] or "suboptions" in options[name]:
            problems += _differences(options[name].get("suboptions") or {}, spec[name].get("options") or {},
                                     where + ".")
    return problems
