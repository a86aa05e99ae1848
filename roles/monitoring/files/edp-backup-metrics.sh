#!/usr/bin/env bash
# edp-backup-metrics.sh: the dr role's backups of one tenant as metrics for node_exporter's
# textfile collector, rewritten every INTERVAL seconds. Managed by edp.platform (monitoring role).
#
# What it reads is what edp-backup.sh leaves (so a backup is counted only once it is whole):
#   dump        the newest <db>-<stamp>.dump.manifest.json in BACKUP_ROOT/dumps (written last);
#   basebackup  the newest <stamp>.done in BACKUP_ROOT/base (written after pg_verifybackup);
#   a failure   the last line of LOG_DIR/<kind>.log, where cron appends each run: a successful
#               run ends with its JSON line, a failed one with "edp-backup: error: ...".
# Environment: BACKUP_ROOT, LOG_DIR, SINCE_FILE (its mtime: when the backups were set up),
# OUT (the textfile directory), INTERVAL.
set -u
: "${BACKUP_ROOT:?}" "${LOG_DIR:?}" "${SINCE_FILE:?}" "${OUT:?}"
INTERVAL=${INTERVAL:-15}

newest() {  # the mtime (epoch seconds) of the newest file matching $2 in $1, or 0
  local found
  found=$(find "$1" -maxdepth 1 -name "$2" -printf '%T@\n' 2>/dev/null | sort -n | tail -n 1)
  printf '%s' "${found%%.*}" | grep . || printf 0
}

last_failed() {  # 1 when the last run logged in $1 ended with an error, else 0
  local last
  last=$(grep -v '^[[:space:]]*$' "$1" 2>/dev/null | tail -n 1)
  case $last in
    *"edp-backup: error:"*) printf 1 ;;
    *) printf 0 ;;
  esac
}

write() {
  local since tmp
  since=$(stat -c %Y "$SINCE_FILE" 2>/dev/null || printf 0)
  tmp="$OUT/.edp_backup.prom.$$"
  {
    echo "# HELP edp_backup_last_success_timestamp_seconds When the newest whole backup of this kind was written (0: none)."
    echo "# TYPE edp_backup_last_success_timestamp_seconds gauge"
    echo "edp_backup_last_success_timestamp_seconds{kind=\"dump\"} $(newest "$BACKUP_ROOT/dumps" '*.dump.manifest.json')"
    echo "edp_backup_last_success_timestamp_seconds{kind=\"basebackup\"} $(newest "$BACKUP_ROOT/base" '*.done')"
    echo "# HELP edp_backup_last_run_failed 1 when the last run of this kind ended with an error."
    echo "# TYPE edp_backup_last_run_failed gauge"
    echo "edp_backup_last_run_failed{kind=\"dump\"} $(last_failed "$LOG_DIR/dump.log")"
    echo "edp_backup_last_run_failed{kind=\"basebackup\"} $(last_failed "$LOG_DIR/basebackup.log")"
    echo "# HELP edp_backup_configured_timestamp_seconds When the backups were set up (0: not set up)."
    echo "# TYPE edp_backup_configured_timestamp_seconds gauge"
    echo "edp_backup_configured_timestamp_seconds{kind=\"dump\"} $since"
    echo "edp_backup_configured_timestamp_seconds{kind=\"basebackup\"} $since"
  } > "$tmp" && mv -f "$tmp" "$OUT/edp_backup.prom"
}

mkdir -p "$OUT"
while true; do
  write
  sleep "$INTERVAL"
done
