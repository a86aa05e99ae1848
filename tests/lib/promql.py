"""What a PromQL expression reads, without a PromQL parser: the monitoring tests use it to check
that every metric an alert rule or a dashboard panel reads is one an exporter produces."""

import re

WORDS = {"and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right", "bool",
         "offset", "inf", "nan", "Inf", "NaN",
         # Aggregation operators, which may have their grouping before their parenthesis.
         "sum", "min", "max", "avg", "count", "group", "stddev", "stdvar", "topk", "bottomk", "quantile",
         "count_values"}


def metric_names(expr):
    """The metric names a PromQL expression reads (label matchers, strings, ranges and grouping
    lists removed; what remains that is not a function or a keyword is a metric name)."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    text = re.sub(r"\{[^}]*\}", "", text)
    text = re.sub(r"\[[^\]]*\]", "", text)
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", r"\1", text)
    names = set()
    for match in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", text):
        before = text[match.start() - 1] if match.start() else " "
        if before.isdigit() or before == ".":
            continue  # an exponent or a unit of a number
        if text[match.end():].lstrip().startswith("(") or match.group() in WORDS:
            continue
        names.add(match.group())
    return names


def panel_queries(board, namespace):
    """Every panel's (title, expression) of a Grafana dashboard, its variables given values."""
    for panel in board["panels"]:
        for target in panel.get("targets", []):
            yield panel["title"], target["expr"].replace("$namespace", namespace).replace("$__rate_interval", "5m")
