#!/bin/sh
# edp-k8s-backup.sh: the Kubernetes side of a tenant's backups, beside edp-backup.sh.
#
# Run by the dr role's CronJobs in the kubectl image (POSIX sh, kubectl, awk, sort), with
# the edp-dr ServiceAccount, whose Role grants exactly what these commands use. Managed by
# edp.platform (dr role); do not edit.
#
#   edp-k8s-backup.sh snapshot   a VolumeSnapshot of SNAPSHOT_PVC in SNAPSHOT_CLASS, then keep
#                                the newest SNAPSHOT_KEEP_COUNT (and the newest ready one)
#   edp-k8s-backup.sh export     the tenant's objects (EXPORT_SELECTOR, Secrets included), one
#                                YAML file per kind without the fields the server adds, into
#                                BACKUP_ROOT/config/<stamp>/ (0600 files in 0700 folders);
#                                keep the newest EXPORT_KEEP_COUNT exports
#
# Environment: NAMESPACE (default: the pod's own), TENANT (a label value), SNAPSHOT_PVC,
# SNAPSHOT_CLASS, SNAPSHOT_KEEP_COUNT; BACKUP_ROOT, EXPORT_RESOURCES (names as
# `kubectl api-resources -o name` prints them), EXPORT_SELECTOR, EXPORT_KEEP_COUNT; KUBECTL
# (default kubectl). Every command ends with one JSON line of figures on stdout; progress
# goes to stderr.

set -eu
umask 077

log() { printf '%s edp-k8s-backup: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

NAMESPACE=${NAMESPACE:-$(cat /var/run/secrets/kubernetes.io/serviceaccount/namespace 2>/dev/null || true)}
[ -n "$NAMESPACE" ] || die "NAMESPACE is not set (and this is not a pod with a service account)"
KUBECTL=${KUBECTL:-kubectl}

kube() { "$KUBECTL" --namespace="$NAMESPACE" "$@"; }

positive() {  # positive VALUE NAME: a whole number of at least 1, or die
  case $1 in '' | *[!0-9]*) die "$2 '$1' is not a whole number" ;; esac
  [ "$1" -ge 1 ] || die "$2 must be at least 1"
}

json_list() {  # names of our own objects and folders: no quotes or backslashes in them
  out=""
  for item in "$@"; do out="$out${out:+, }\"$item\""; done
  printf '[%s]' "$out"
}

# -- snapshot ------------------------------------------------------------------------------

snapshot_manifest() {
  cat <<EOF
apiVersion: snapshot.storage.k8s.io/v1
kind: VolumeSnapshot
metadata:
  name: $1
  namespace: $NAMESPACE
  labels:
    app.kubernetes.io/name: edp-dr
    app.kubernetes.io/instance: "${TENANT:-$NAMESPACE}"
    app.kubernetes.io/component: snapshot
    edp.platform/snapshot-of: $SNAPSHOT_PVC
spec:
  volumeSnapshotClassName: $SNAPSHOT_CLASS
  source:
    persistentVolumeClaimName: $SNAPSHOT_PVC
EOF
}

cmd_snapshot() {
  : "${SNAPSHOT_CLASS:?SNAPSHOT_CLASS is not set}"
  SNAPSHOT_PVC=${SNAPSHOT_PVC:-postgres-data}
  keep=${SNAPSHOT_KEEP_COUNT:-7}
  positive "$keep" SNAPSHOT_KEEP_COUNT
  selector="edp.platform/snapshot-of=$SNAPSHOT_PVC"
  # Named by the UTC second, so that names sort in time; a second snapshot within the same
  # second waits for the next one.
  tries=0
  while :; do
    name="$SNAPSHOT_PVC-$(date -u +%Y%m%d-%H%M%S)"
    if error=$(snapshot_manifest "$name" | kube create -f - 2>&1 >/dev/null); then break; fi
    case $error in
      *AlreadyExists* | *"already exists"*) tries=$((tries + 1)); [ "$tries" -lt 5 ] || die "$error"; sleep 1 ;;
      *) die "cannot create VolumeSnapshot $name: $error" ;;
    esac
  done
  log "created VolumeSnapshot $name of PVC $SNAPSHOT_PVC (class $SNAPSHOT_CLASS)"
  # Retention by name (oldest first): all but the newest $keep go, except the newest ready
  # one, so that a run of failing snapshots never deletes the last good one.
  listing=$(kube get volumesnapshots -l "$selector" \
              -o jsonpath='{range .items[*]}{.metadata.name}{" "}{.status.readyToUse}{"\n"}{end}' | sort)
  total=$(printf '%s\n' "$listing" | awk 'NF { n++ } END { print n + 0 }')
  ready=$(printf '%s\n' "$listing" | awk '$2 == "true" { n = $1 } END { print n }')
  old=$(printf '%s\n' "$listing" | awk -v drop=$((total - keep)) -v ready="$ready" \
          'NF { i++; if (i <= drop && $1 != ready) print $1 }')
  set --
  for item in $old; do set -- "$@" "$item"; done
  if [ $# -gt 0 ]; then
    kube delete volumesnapshot --wait=false "$@" >&2
    log "deleted $# VolumeSnapshot(s) (retention: $keep)"
  fi
  printf '{"snapshot": "%s", "pvc": "%s", "class": "%s", "kept": %s, "deleted": %s}\n' \
    "$name" "$SNAPSHOT_PVC" "$SNAPSHOT_CLASS" "$((total - $#))" "$(json_list "$@")"
}

# -- export --------------------------------------------------------------------------------

# kubectl's YAML of a List without what the server adds, so that a file can be applied again:
# status, and metadata's uid, resourceVersion, generation, creationTimestamp, selfLink and
# managedFields (kubectl leaves those out already). kubectl writes two-space indents with
# sequences at their key's indent, and multi-line strings deeper than their key, so an
# item's fields are at indent 2 and its metadata's at indent 4.
strip_server_fields() {
  awk -v skip=-1 '
    function indent(line) { match(line, /^ */); return RLENGTH }
    function key(line) { sub(/^ *(- )?/, "", line); sub(/:.*/, "", line); return line }
    /^$/ { if (skip < 0) print; next }
    {
      n = indent($0)
      if (skip >= 0) {
        if (n > skip || (n == skip && substr($0, n + 1, 2) == "- ")) next
        skip = -1
      }
      if (n == 0 && $0 !~ /^- /) { top = key($0); if (top == "metadata") { skip = 0; next } }
      if (n == 2 && substr($0, 3, 2) != "- ") {
        section = key($0)
        if (section == "status") { skip = 2; next }
      }
      if (n == 4 && section == "metadata" && substr($0, 5, 2) != "- " &&
          key($0) ~ /^(uid|resourceVersion|generation|creationTimestamp|selfLink|managedFields)$/) {
        skip = 4; next
      }
      print
    }
  '
}

cmd_export() {
  : "${BACKUP_ROOT:?BACKUP_ROOT is not set}"
  : "${EXPORT_RESOURCES:?EXPORT_RESOURCES is not set}"
  selector=${EXPORT_SELECTOR:-app.kubernetes.io/managed-by=edp.platform}
  keep=${EXPORT_KEEP_COUNT:-14}
  positive "$keep" EXPORT_KEEP_COUNT
  config="$BACKUP_ROOT/config"
  mkdir -p "$config"
  chmod 0700 "$config"
  stamp=$(date -u +%Y%m%dT%H%M%SZ)
  while [ -e "$config/$stamp" ]; do sleep 1; stamp=$(date -u +%Y%m%dT%H%M%SZ); done
  tmp="$config/.$stamp.partial"
  mkdir "$tmp"
  trap 'rm -rf "$tmp"' EXIT
  served=$("$KUBECTL" api-resources --namespaced=true -o name)
  objects=0
  kinds=0
  skipped=""
  for resource in $EXPORT_RESOURCES; do
    if ! printf '%s\n' "$served" | grep -qxF "$resource"; then
      skipped="$skipped $resource"
      continue
    fi
    kube get "$resource" -l "$selector" -o yaml >"$tmp/.raw"
    count=$(grep -c '^- ' "$tmp/.raw" || true)
    if [ "$count" -gt 0 ]; then
      strip_server_fields <"$tmp/.raw" >"$tmp/$resource.yaml"
      chmod 0600 "$tmp/$resource.yaml"
      objects=$((objects + count))
      kinds=$((kinds + 1))
    fi
    rm -f "$tmp/.raw"
  done
  mv "$tmp" "$config/$stamp"
  trap - EXIT
  log "exported $objects objects of $kinds kinds into $config/$stamp"
  # Retention: the newest $keep exports; unfinished ones of killed runs after an hour.
  set --
  for old in $(ls -1 "$config" | grep -E '^[0-9]{8}T[0-9]{6}Z$' | sort -r | awk -v keep="$keep" 'NR > keep'); do
    rm -rf "${config:?}/$old"
    set -- "$@" "$old"
  done
  find "$config" -maxdepth 1 -name '.*.partial' -mmin +60 -exec rm -rf {} + 2>/dev/null || true
  [ $# -eq 0 ] || log "deleted $# export(s) (retention: $keep)"
  # shellcheck disable=SC2086 # the skipped names are words
  printf '{"export": "%s", "objects": %s, "kinds": %s, "skipped": %s, "deleted": %s}\n' \
    "$config/$stamp" "$objects" "$kinds" "$(json_list $skipped)" "$(json_list "$@")"
}

command=${1:-}
case $command in
  snapshot) cmd_snapshot ;;
  export) cmd_export ;;
  *) die "usage: edp-k8s-backup.sh snapshot|export" ;;
esac
