#!/usr/bin/env python3
"""Write tests/crds/ from the upstream CustomResourceDefinitions: their structural schemas only.

The emulator validates custom resources (ServiceMonitor, SparkApplication, Route, ...) against
their projects' CRDs. The repository keeps what its tests need: each CRD's names, scope and
versions with the complete `openAPIV3Schema` - every type, format, enumeration, pattern,
bound, default, `required`, `nullable`, `anyOf`/`oneOf`/`allOf`/`not` and `x-kubernetes-*`
extension (CEL rules with their messages too) - and none of the prose: `description`,
`example`, `externalDocs` and `title` of every schema node, printer columns, deprecation
warnings, annotations, labels and status. The prose is most of the upstream bytes.

SOURCES below names every upstream file (project, tag and commit, path, sha256, git blob id);
the script refuses a file that matches neither hash, and writes tests/crds/SOURCES.md from
the same table. To regenerate, put the upstream files in a folder (the raw URLs are in
SOURCES.md; a file may keep its upstream name, and Istio's multi-document crd-all.gen.yaml is
read as it is) and run `scripts/crd_schemas.py --upstream FOLDER`. `--check` fails (exit 1)
when tests/crds/ differs from what would be written; the tests run it when the upstream
files are present. This script and that test are the only readers of the upstream folder.
"""

import argparse
import difflib
import hashlib
import os
import pathlib
import sys

import yaml

REPO = pathlib.Path(__file__).resolve().parent.parent
OUT = REPO / "tests" / "crds"
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

# Where the upstream files come from, one row per CRD. `file`: its name in the upstream folder
# and in tests/crds/. `sha256`: of that file. `blob`: the git blob id of `path` at `commit`
# (what `git hash-object` gives for a raw download), so a file downloaded by hand under its
# upstream name is accepted too. Istio's two CRDs are single documents split unedited out of
# one multi-document file (`split`): their sha256 is the split document's, their blob the whole
# file's.
PROMETHEUS = dict(repo="prometheus-operator/prometheus-operator", tag="v0.93.0",
                  commit="f8fafd475f3d132e239432ae6172de60a6cb6516")
SPARK = dict(repo="kubeflow/spark-operator", tag="v2.5.2", commit="43afb8bbd32463037d8fb6e414e252c69081882b")
SNAPSHOTTER = dict(repo="kubernetes-csi/external-snapshotter", tag="v8.6.0",
                   commit="78e32cd84e0abec2621924a30e38c755f93e180a")
OPENSHIFT = dict(repo="openshift/api", tag="master", commit="2a3d73913b5a7caec4c57d5c3d04f51106ec4da3")
ISTIO = dict(repo="istio/istio", tag="1.30.3", commit="56df41f63e513f834c9a3af33d8aed82d1d961f2")
CERT_MANAGER = dict(repo="cert-manager/cert-manager", tag="v1.21.1", commit="24e33194fb39488eff2bbf10c6dc640f407cad44")
ISTIO_ALL = "manifests/charts/base/files/crd-all.gen.yaml"
ISTIO_BLOB = "7318e07ffdaca66dbbfdc4e27e93da74eabdd3a2"

SOURCES = [
    dict(PROMETHEUS, name="servicemonitors.monitoring.coreos.com", file="monitoring.coreos.com_servicemonitors.yaml",
         path="example/prometheus-operator-crd/monitoring.coreos.com_servicemonitors.yaml",
         blob="f5736255990a0e152851fadb55f84d6fd0f91d87",
         sha256="a99047972c9dd7679ce2050b9968e8a08773492e671b3e17abd476d42aa78a32"),
    dict(PROMETHEUS, name="podmonitors.monitoring.coreos.com", file="monitoring.coreos.com_podmonitors.yaml",
         path="example/prometheus-operator-crd/monitoring.coreos.com_podmonitors.yaml",
         blob="5c1bde3d4a5f3131fd6c148ab933193b867173f2",
         sha256="45a93443daa687d3654f7e9631909ff7edcdf3ec09c5e60251b74aa2722aee5d"),
    dict(PROMETHEUS, name="prometheusrules.monitoring.coreos.com", file="monitoring.coreos.com_prometheusrules.yaml",
         path="example/prometheus-operator-crd/monitoring.coreos.com_prometheusrules.yaml",
         blob="b423c3225b18489ca7bbc5091f38f7003c4bf3fc",
         sha256="78be98554b9c8506ab2b4f4feb91c5f3a56e536a0a510f3a8e876a459970d56d"),
    dict(SPARK, name="sparkapplications.sparkoperator.k8s.io", file="sparkoperator.k8s.io_sparkapplications.yaml",
         path="charts/spark-operator-chart/crds/sparkoperator.k8s.io_sparkapplications.yaml",
         blob="7154872c1039b466a6ddeb9df9ec60efc4d386a9",
         sha256="ecd9c14fcadb9d5f8ced4c4ee31920548ea53a892e0a69c3e43aa758bfca6d94"),
    dict(SPARK, name="scheduledsparkapplications.sparkoperator.k8s.io",
         file="sparkoperator.k8s.io_scheduledsparkapplications.yaml",
         path="charts/spark-operator-chart/crds/sparkoperator.k8s.io_scheduledsparkapplications.yaml",
         blob="7bc36f2e85eead90036f5a3febfa9ab6483d0fa2",
         sha256="5dc6654b2ad9157421ddf177737795420088fbe70338e45602bacf22ce25cc99"),
    dict(SNAPSHOTTER, name="volumesnapshots.snapshot.storage.k8s.io",
         file="snapshot.storage.k8s.io_volumesnapshots.yaml",
         path="client/config/crd/snapshot.storage.k8s.io_volumesnapshots.yaml",
         blob="6b96d7082f2db89d0ab54ce9c371efe8f02c5d46",
         sha256="b032116e987fb1d7d93cec7d942833adeb9d95c9bdc7e00c10b280c2fe4a6c33"),
    dict(SNAPSHOTTER, name="volumesnapshotclasses.snapshot.storage.k8s.io",
         file="snapshot.storage.k8s.io_volumesnapshotclasses.yaml",
         path="client/config/crd/snapshot.storage.k8s.io_volumesnapshotclasses.yaml",
         blob="8164952a4249f26c57b689d36157a9fa04a9ed96",
         sha256="75e6565aac2c0f2949ed13ea884bbaa388cb7be576b558b709cf1168e011828d"),
    dict(SNAPSHOTTER, name="volumesnapshotcontents.snapshot.storage.k8s.io",
         file="snapshot.storage.k8s.io_volumesnapshotcontents.yaml",
         path="client/config/crd/snapshot.storage.k8s.io_volumesnapshotcontents.yaml",
         blob="cd0c879fc4287b4f98525cdc86fe5fdca4113450",
         sha256="895a3c1e73b60f06a0deb566dd123d01bdf1b2efc5d5ff5231ff8bbcf42dafc7"),
    dict(OPENSHIFT, name="routes.route.openshift.io", file="route.openshift.io_routes.yaml",
         path="route/v1/zz_generated.crd-manifests/routes.crd.yaml",
         blob="f923ec9ae11b7079d7159f5b32a8b8fffbcd2b36",
         sha256="65e2171923f7596a2a7b7da21891e9ed5906da8108ce15145b61924b9db73d82",
         note="openshift/api has no release tags: the `master` commit named; the file last changed in "
              "5ab63aea6909272582889fed0c0fbd736409619b (2026-07-30). The generated manifest with every "
              "feature gate merged."),
    dict(ISTIO, name="peerauthentications.security.istio.io", file="security.istio.io_peerauthentications.yaml",
         path=ISTIO_ALL, blob=ISTIO_BLOB, split=True,
         sha256="c4896e77c84c454f79bbb592c16ec04a86519c28f617ab5c3d7618279c20b77b",
         note="One document of the multi-document file, split out unedited (the sha256 is that document's, "
              "the git blob the whole file's)."),
    dict(ISTIO, name="authorizationpolicies.security.istio.io", file="security.istio.io_authorizationpolicies.yaml",
         path=ISTIO_ALL, blob=ISTIO_BLOB, split=True,
         sha256="be33190c7ed85b38d850378179b052805ddfd5d69dad3da0b8e83e130278f64c",
         note="One document of the multi-document file, split out unedited (the sha256 is that document's, "
              "the git blob the whole file's)."),
    dict(CERT_MANAGER, name="certificates.cert-manager.io", file="cert-manager.io_certificates.yaml",
         path="deploy/crds/cert-manager.io_certificates.yaml",
         blob="1eb46fbeed2127650fe4ec06ddc7289163f75e3b",
         sha256="7ad91029c00ec959d54215b19d3b1a9b7e0247eaa60f987151c2b70d8661f8af"),
    dict(CERT_MANAGER, name="issuers.cert-manager.io", file="cert-manager.io_issuers.yaml",
         path="deploy/crds/cert-manager.io_issuers.yaml",
         blob="bfa8262b5628e1d8ea7cc398cf1ad321a2bedc62",
         sha256="05e37efb02777e0362d24269fa103c2fc11419f9c85e31854ef873e5d9e5c5cc"),
]

# Every project is Apache-2.0 (each repository's top-level LICENSE at the commit used).
# Apache-2.0 section 4(d): a NOTICE file shipped upstream is passed on with its text.
LICENSE = "Apache-2.0"
NOTICES = {
    "prometheus-operator/prometheus-operator":
        "CoreOS Project\nCopyright 2015 CoreOS, Inc\n\n"
        "This product includes software developed at CoreOS, Inc.\n(http://www.coreos.com/).\n",
}

# What is kept of a CRD outside its schemas (anything else - annotations, labels, printer
# columns, deprecationWarning, status - is dropped). A key that is in neither list stops the
# script: decide whether it is a fact or prose before it reaches the tests.
KEEP = {
    "crd": ("apiVersion", "kind", "metadata", "spec"),
    "metadata": ("name",),
    "spec": ("group", "names", "scope", "versions", "preserveUnknownFields", "conversion"),
    "version": ("name", "served", "storage", "deprecated", "subresources", "selectableFields", "schema"),
}
DROP = {
    "crd": ("status",),
    "metadata": ("annotations", "labels", "creationTimestamp"),
    "spec": (),
    "version": ("additionalPrinterColumns", "deprecationWarning"),
}

# Schema keywords (OpenAPI v3.0 as CRDs allow it). Documentation is dropped; the rest is kept.
DOC_KEYWORDS = {"description", "example", "externalDocs", "title"}
SCHEMA_MAPS = {"properties", "patternProperties", "definitions"}  # name -> schema
SCHEMA_LISTS = {"anyOf", "oneOf", "allOf"}  # [schema]
SCHEMA_ONE = {"items", "not", "additionalProperties", "additionalItems"}  # schema (or bool, or [schema])
VALUES = {  # kept as they are: data, not schemas (a `default` may well hold a key named "description")
    "type", "format", "required", "enum", "pattern", "default", "nullable", "uniqueItems", "multipleOf",
    "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "minLength", "maxLength",
    "minItems", "maxItems", "minProperties", "maxProperties",
}


def strip_schema(node, where="schema"):
    """A copy of one schema node without documentation, in the same key order.

    Walks only the keywords that hold schemas, so a property *named* `description` stays.
    A keyword whose value is null (the Route CRD's `anyOf: null`) is kept as it is.
    """
    if isinstance(node, bool):
        return node
    if not isinstance(node, dict):
        raise ValueError("%s: a schema must be a mapping, not %r" % (where, node))
    out = {}
    for key, value in node.items():
        here = "%s.%s" % (where, key)
        if key in DOC_KEYWORDS:
            continue
        if not (key in VALUES or key.startswith("x-kubernetes-") or key in SCHEMA_MAPS | SCHEMA_LISTS | SCHEMA_ONE):
            raise ValueError("%s: unknown schema keyword; add it to VALUES or DOC_KEYWORDS" % here)
        if value is None or key in VALUES or key.startswith("x-kubernetes-"):
            out[key] = value  # x-kubernetes-validations: every rule, message and reason
        elif key in SCHEMA_MAPS:
            out[key] = {name: strip_schema(sub, "%s.%s" % (here, name)) for name, sub in value.items()}
        elif key in SCHEMA_LISTS:
            out[key] = [strip_schema(sub, "%s[%d]" % (here, i)) for i, sub in enumerate(value)]
        elif isinstance(value, list):  # items as a list of schemas
            out[key] = [strip_schema(sub, "%s[%d]" % (here, i)) for i, sub in enumerate(value)]
        else:
            out[key] = strip_schema(value, here)
    return out


def _kept(mapping, part, where):
    unknown = [k for k in mapping if k not in KEEP[part] and k not in DROP[part]]
    if unknown:
        raise ValueError("%s: unknown key(s) %s; add them to KEEP or DROP" % (where, ", ".join(unknown)))
    return {k: v for k, v in mapping.items() if k in KEEP[part]}


def strip_crd(crd):
    """The structural part of a CRD: names, scope, versions and their schemas, no prose."""
    name = crd["metadata"]["name"]
    out = _kept(crd, "crd", name)
    out["metadata"] = _kept(crd["metadata"], "metadata", name + " metadata")
    out["spec"] = _kept(crd["spec"], "spec", name + " spec")
    versions = []
    for version in crd["spec"]["versions"]:
        where = "%s %s" % (name, version["name"])
        kept = _kept(version, "version", where)
        if "schema" in kept:
            schema = kept["schema"]
            kept["schema"] = dict(schema, openAPIV3Schema=strip_schema(schema["openAPIV3Schema"], where))
        versions.append(kept)
    out["spec"]["versions"] = versions
    return out


class _Dumper(yaml.SafeDumper):
    """Block style with sequences indented under their key (the repository's YAML style). The pure-Python
    dumper always, never libyaml's, so the output is the same on every machine."""

    def increase_indent(self, flow=False, indentless=False):
        return super().increase_indent(flow, False)

    def ignore_aliases(self, data):
        return True  # never &id001 anchors, even for a value that occurs twice


def raw_url(source):
    return "https://raw.githubusercontent.com/%s/%s/%s" % (source["repo"], source["commit"], source["path"])


def render(source, crd):
    """The text of tests/crds/<file>: a header naming the upstream file, then the stripped CRD."""
    header = [
        "# Generated by scripts/crd_schemas.py - do not edit; rerun it (see SOURCES.md).",
        "# From %s %s (%s)," % (source["repo"], source["tag"], source["commit"]),
        "#   %s" % source["path"],
        "#   %ssha256 %s." % ("one document of it, split out unedited: " if source.get("split") else "",
                              source["sha256"]),
        "# Its structural schema only: descriptions and other prose stripped, otherwise unchanged. %s." % LICENSE,
    ]
    body = yaml.dump(strip_crd(crd), Dumper=_Dumper, sort_keys=False, default_flow_style=False,
                     allow_unicode=True, width=100, explicit_start=True)
    return "\n".join(header) + "\n" + body


def sha256(text):
    return hashlib.sha256(text.encode()).hexdigest()


def sources_md(generated):
    """tests/crds/SOURCES.md, from SOURCES and NOTICES, with the sha256 of each generated file
    (`generated`: {file name: text}), so a stored file changed by hand shows without upstream."""
    lines = [
        "# Upstream CRDs: where tests/crds/ comes from",
        "",
        "<!-- Generated by scripts/crd_schemas.py from its SOURCES table; edit the table, not this file. -->",
        "",
        "The emulator (`tests/emulator`) validates custom resources against these CustomResourceDefinitions.",
        "Each `*.yaml` here is generated by `scripts/crd_schemas.py` from the upstream file below: the CRD's",
        "names, scope and versions (`served`, `storage`, `deprecated`, `subresources`, `selectableFields`) and",
        "its complete `openAPIV3Schema` - every type, format, enumeration, pattern, bound, default,",
        "`required`, `nullable`, `anyOf`/`oneOf`/`allOf`/`not` and `x-kubernetes-*` extension, CEL rules and",
        "their messages included. **Stripped:** `description`, `example`, `externalDocs` and `title` of",
        "every schema node, `additionalPrinterColumns`, `deprecationWarning`, the CRD's annotations (such",
        "as the controller-gen version), labels and status. The schemas are otherwise unchanged: nothing",
        "was added, reordered or edited.",
        "",
        "| file | project | tag / commit | upstream path | license | sha256 of the upstream file | git blob "
        "| sha256 of the file here |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for s in SOURCES:
        lines.append("| %s | [%s](https://github.com/%s) | %s / `%s` | `%s` | %s | `%s` | `%s` | `%s` |" % (
            s["file"], s["repo"], s["repo"], s["tag"], s["commit"], s["path"], LICENSE, s["sha256"], s["blob"],
            sha256(generated[s["file"]])))
    lines += ["", "Notes:", ""]
    for s in SOURCES:
        if s.get("note"):
            lines.append("- `%s`: %s" % (s["file"], s["note"]))
    lines += [
        "",
        "## Licenses and notices",
        "",
        "Every project above is licensed under the Apache License, Version 2.0 (`LICENSE` beside this",
        "file; https://www.apache.org/licenses/LICENSE-2.0). The files here are derived from theirs by",
        "removing documentation, as the header of each file states.",
        "",
    ]
    for repo, notice in sorted(NOTICES.items()):
        lines += ["%s ships a `NOTICE` file; its text:" % repo, "", "```"] + notice.rstrip("\n").split("\n")
        lines += ["```", ""]
    lines += [
        "## Regenerate",
        "",
        "Download the upstream files into one folder (any name; a file may keep its upstream name, and",
        "Istio's `crd-all.gen.yaml` is read as it is - the CRD is picked by its name), then:",
        "",
        "```sh",
        "scripts/crd_schemas.py --upstream FOLDER          # writes tests/crds/",
        "scripts/crd_schemas.py --upstream FOLDER --check  # exit 1 when tests/crds/ differs",
        "```",
        "",
        "Each file must match its sha256 or its git blob id above (`git hash-object FILE`); a newer",
        "upstream version means changing the table in the script. The last column holds each generated",
        "file's own sha256: without the upstream files the tests compare that. The raw URLs:",
        "",
    ]
    seen = set()
    for s in SOURCES:
        url = raw_url(s)
        if url not in seen:
            seen.add(url)
            lines.append("- %s" % url)
    return "\n".join(lines) + "\n"


def git_blob(data):
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def read_upstream(folder, source):
    """The CRD named by `source` from its file in `folder`, after checking the file's hashes."""
    names = [source["file"], pathlib.PurePosixPath(source["path"]).name]
    found = [folder / n for n in dict.fromkeys(names) if (folder / n).is_file()]
    if not found:
        raise SystemExit("%s: none of %s in %s (download %s)" % (source["name"], ", ".join(names), folder,
                                                                  raw_url(source)))
    data = found[0].read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if digest != source["sha256"] and git_blob(data) != source["blob"]:
        raise SystemExit("%s: sha256 %s and git blob %s match neither the recorded sha256 %s nor blob %s; "
                         "a new upstream version? Update SOURCES in scripts/crd_schemas.py."
                         % (found[0], digest, git_blob(data), source["sha256"], source["blob"]))
    for doc in yaml.load_all(data, Loader=_Loader):
        if isinstance(doc, dict) and doc.get("kind") == "CustomResourceDefinition" \
                and doc["metadata"]["name"] == source["name"]:
            return doc
    raise SystemExit("%s: no CustomResourceDefinition %s in it" % (found[0], source["name"]))


def expected(folder):
    """{file name in tests/crds/: text} for everything the script writes."""
    files = {s["file"]: render(s, read_upstream(folder, s)) for s in SOURCES}
    files["SOURCES.md"] = sources_md(files)
    return files


def default_upstream():
    return pathlib.Path(os.environ.get("EDP_UPSTREAM_CRDS") or REPO.parent / "shared" / "crds")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--upstream", type=pathlib.Path, default=default_upstream(),
                        help="folder of the upstream CRD files (default: $EDP_UPSTREAM_CRDS or ../shared/crds)")
    parser.add_argument("--check", action="store_true", help="fail when tests/crds/ differs from what it would write")
    args = parser.parse_args()
    if not args.upstream.is_dir():
        raise SystemExit("no upstream folder %s (--upstream DIR; the files are listed in %s)"
                         % (args.upstream, (OUT / "SOURCES.md").relative_to(REPO)))
    files = expected(args.upstream)
    # Generated YAML files no longer in the table are stale (LICENSE and the like are kept).
    stale = sorted(p.name for p in OUT.glob("*.yaml") if p.name not in files) if OUT.is_dir() else []
    differ = []
    for name, text in files.items():
        path = OUT / name
        old = path.read_text() if path.is_file() else None
        if old == text:
            continue
        differ.append(name)
        if args.check:
            print("%s: %s" % (name, "missing" if old is None else "differs"))
            diff = list(difflib.unified_diff((old or "").splitlines(), text.splitlines(), "stored", "generated",
                                             lineterm="", n=1))
            print("\n".join(diff[:20] + (["  ... %d more diff lines" % (len(diff) - 20)] if len(diff) > 20 else [])))
        else:
            OUT.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            print("wrote tests/crds/%s" % name)
    for name in stale:
        if args.check:
            print("%s: not generated from SOURCES (remove it)" % name)
        else:
            (OUT / name).unlink()
            print("removed tests/crds/%s" % name)
    if args.check and (differ or stale):
        print("tests/crds/ is out of date: run scripts/crd_schemas.py")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
