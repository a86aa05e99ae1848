#!/usr/bin/env bash
# edp-backup.sh: the backups of one tenant's metadata database, and their restores.
#
# The same script runs in the dr role's Kubernetes Jobs (the postgres image: bash, coreutils
# and the PostgreSQL client of the server's own version) and on the local target (from
# root's crontab and the playbooks). Managed by edp.platform (dr role); do not edit.
#
#   edp-backup.sh dump                   pg_dump (custom format) with a manifest, then retention
#   edp-backup.sh basebackup             pg_basebackup, checked by pg_verifybackup, then retention
#   edp-backup.sh restore [ARCHIVE]      restore a dump (default: the newest) as the database,
#                                        keeping the one it replaces under another name
#   edp-backup.sh drill [ARCHIVE]        restore a dump into a scratch database, compare, drop
#   edp-backup.sh pitr-plan TIME         check TIME and name the base backup it would use
#   edp-backup.sh pitr-prepare TIME      with the server stopped: lay down the newest base
#                                        backup that ends before TIME, to recover up to TIME
#   edp-backup.sh pitr-finish            after the recovery: wait for promotion, clear settings
#   edp-backup.sh newest                 the newest dump that has a manifest
#
# Environment: BACKUP_ROOT (dumps/, base/, wal/ below it), the libpq variables PGHOST,
# PGPORT, PGUSER (a superuser) and PGPASSWORD or PGPASSFILE, PGDATABASE (the database backed
# up), DB_OWNER (its owner), DUMP_KEEP_COUNT, DUMP_KEEP_AGE (seconds or 14d, 36h, 1d12h),
# BASE_KEEP_COUNT, MAX_AGE (drill: the oldest the dump may be), PGDATA (pitr-*), PG_BINDIR
# (optional: the client tools' folder), PGBOUNCER_USER (PgBouncer's role, for its auth function
# after a restore: edp-pgbouncer.sql beside this script).
#
# Every command ends with one JSON line of figures on stdout; progress goes to stderr.
# The manifest (<archive>.manifest.json) is what edp.platform.pg_dump_verify checks:
# format_version, database, created (the dump's snapshot time), archive, format, size,
# sha256, server_version and tables (rows of every table whose data pg_dump writes,
# counted in the dump's own snapshot).

set -euo pipefail
umask 077

: "${BACKUP_ROOT:?BACKUP_ROOT is not set}"
: "${PGDATABASE:?PGDATABASE is not set}"
DB_OWNER=${DB_OWNER:-$PGDATABASE}
DUMP_KEEP_COUNT=${DUMP_KEEP_COUNT:-7}
DUMP_KEEP_AGE=${DUMP_KEEP_AGE:-14d}
BASE_KEEP_COUNT=${BASE_KEEP_COUNT:-2}
MAX_AGE=${MAX_AGE:-}
PGBOUNCER_USER=${PGBOUNCER_USER:-pgbouncer}
if [ -n "${PG_BINDIR:-}" ]; then PATH="$PG_BINDIR:$PATH"; fi
DUMPS="$BACKUP_ROOT/dumps"
BASE="$BACKUP_ROOT/base"
WAL="$BACKUP_ROOT/wal"
MANIFEST_SUFFIX=.manifest.json
PSQL=(psql --no-psqlrc --quiet --no-align --tuples-only --set=ON_ERROR_STOP=1)
export PGAPPNAME=edp-backup

# What a command leaves behind if it stops half-way: removed on exit, whatever happens.
CLEANUP_PATHS=()
SCRATCH_DATABASE=""
on_exit() {
  if [ ${#CLEANUP_PATHS[@]} -gt 0 ]; then rm -rf "${CLEANUP_PATHS[@]}"; fi
  if [ -n "$SCRATCH_DATABASE" ]; then drop_database "$SCRATCH_DATABASE"; fi
}
trap on_exit EXIT

log() { printf '%s edp-backup: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# -- small pieces ------------------------------------------------------------------------

# A UTC stamp for a new backup; waits a second rather than reuse one (two runs at once).
new_stamp() {
  local stamp
  stamp=$(date -u +%Y%m%dT%H%M%SZ)
  while compgen -G "$1*$stamp*" >/dev/null; do sleep 1; stamp=$(date -u +%Y%m%dT%H%M%SZ); done
  printf '%s' "$stamp"
}

stamp_epoch() {  # 20261128T170000Z -> seconds since the epoch
  local s=$1
  date -u -d "${s:0:4}-${s:4:2}-${s:6:2}T${s:9:2}:${s:11:2}:${s:13:2}Z" +%s
}

seconds() {  # 3600, 26h, 14d, 1d12h -> seconds
  local text=${1,,} total=0
  if [[ $text =~ ^[0-9]+$ ]]; then printf '%s' "$text"; return; fi
  [[ $text =~ ^([0-9]+[smhdw])+$ ]] || die "$2 '$1' is not seconds or a duration such as 14d, 26h, 1d12h"
  while [[ $text =~ ^([0-9]+)([smhdw])(.*)$ ]]; do
    case ${BASH_REMATCH[2]} in
      s) total=$((total + BASH_REMATCH[1])) ;;
      m) total=$((total + BASH_REMATCH[1] * 60)) ;;
      h) total=$((total + BASH_REMATCH[1] * 3600)) ;;
      d) total=$((total + BASH_REMATCH[1] * 86400)) ;;
      w) total=$((total + BASH_REMATCH[1] * 604800)) ;;
    esac
    text=${BASH_REMATCH[3]}
  done
  printf '%s' "$total"
}

json_list() {  # "a" "b" -> ["a", "b"] (names of our own files: no quotes or backslashes)
  local out="" item
  for item in "$@"; do out+="${out:+, }\"$item\""; done
  printf '[%s]' "$out"
}

# One backup or restore at a time per backup volume (the schedule, the playbooks).
lock() {
  mkdir -p "$BACKUP_ROOT"
  exec 9>"$BACKUP_ROOT/.edp-backup.lock"
  if command -v flock >/dev/null; then
    flock -w 3600 9 || die "another edp-backup.sh has held $BACKUP_ROOT/.edp-backup.lock for an hour"
  fi
}

# The rows of every table whose data pg_dump writes, as name/rows pairs: the query of the
# manifest, the restore check and the drill. It is pg_dump_verify's own (pg_archive.py's
# ROW_COUNTS_SQL), which the dr role installs beside this script, so that both count alike.
ROW_COUNTS_FILE="$(dirname "${BASH_SOURCE[0]}")/edp-row-counts.sql"
[ -r "$ROW_COUNTS_FILE" ] || die "$ROW_COUNTS_FILE is missing: the dr role installs it beside edp-backup.sh (run site.yml)"
COUNTS_SQL=$(<"$ROW_COUNTS_FILE")
# PgBouncer's role and auth function (the postgres role's pgbouncer.sql), beside this script:
# empty where there is no PgBouncer.
PGBOUNCER_SQL_FILE="$(dirname "${BASH_SOURCE[0]}")/edp-pgbouncer.sql"

# The tables whose rows differ between a manifest (psql variable manifest) and the database
# connected to, one phrase each, then a last line "<tables> <rows>" of the database.
COMPARE_SQL="
WITH expected AS (SELECT key AS name, value::bigint AS rows FROM json_each_text(:'manifest'::json -> 'tables')),
     actual AS ($COUNTS_SQL)
SELECT format('%s has %s rows in the restore, %s in the manifest', name,
              coalesce(a.rows::text, 'no'), coalesce(e.rows::text, 'no'))
  FROM expected e FULL JOIN actual a USING (name)
 WHERE e.rows IS DISTINCT FROM a.rows
 ORDER BY name;
SELECT count(*) || ' ' || coalesce(sum(rows), 0) FROM ($COUNTS_SQL) t;"

# -- dumps ---------------------------------------------------------------------------------

# The newest dump with a manifest, or the one named (a path, or a name in dumps/).
resolve_archive() {
  local wanted=${1:-newest} manifest
  if [ "$wanted" = newest ]; then
    manifest=$(find "$DUMPS" -maxdepth 1 -name "$PGDATABASE-*.dump$MANIFEST_SUFFIX" -printf '%f\n' 2>/dev/null \
                 | sort | tail -n 1)
    [ -n "$manifest" ] || die "no dump of $PGDATABASE with a manifest in $DUMPS: take one with playbooks/backup.yml"
    wanted="$DUMPS/${manifest%"$MANIFEST_SUFFIX"}"
  elif [[ $wanted != */* ]]; then
    wanted="$DUMPS/$wanted"
  fi
  [ -e "$wanted" ] || die "the archive $wanted does not exist"
  [ -f "$wanted$MANIFEST_SUFFIX" ] || die "the archive $wanted has no manifest ($wanted$MANIFEST_SUFFIX)"
  printf '%s' "$wanted"
}

# One field of an archive's manifest (the server parses the JSON: no jq in the image).
manifest_field() {
  "${PSQL[@]}" --dbname=postgres --set=manifest="$(cat "$1$MANIFEST_SUFFIX")" <<<"SELECT :'manifest'::json ->> '$2';"
}

# The archive's SHA-256 against its manifest's: a cheap gate before a restore.
check_digest() {
  local archive=$1 expected actual
  expected=$(manifest_field "$archive" sha256)
  actual=$(sha256sum "$archive" | cut -d' ' -f1)
  [ "$expected" = "$actual" ] || die "$archive does not match its manifest: sha256 $actual, manifest $expected"
}

cmd_dump() {
  local stamp name archive tmp started line manifest tables rows size digest
  lock
  mkdir -p "$DUMPS"
  stamp=$(new_stamp "$DUMPS/$PGDATABASE-")
  name="$PGDATABASE-$stamp.dump"
  archive="$DUMPS/$name"
  tmp="$DUMPS/.$name.partial"
  started=$(date +%s)
  CLEANUP_PATHS+=("$tmp" "$tmp.ok" "$tmp.out" "$tmp.manifest")
  log "dumping $PGDATABASE into $archive"
  # One session exports a snapshot, pg_dump dumps exactly it, and the same session counts
  # every table's rows in it: the manifest's figures are those of the dump however busy the
  # database is. created is the snapshot's time, from which the RPO is measured.
  EDP_DUMP_FILE="$tmp" "${PSQL[@]}" --field-separator=$'\t' --output="$tmp.out" <<SQL
BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;
SELECT pg_export_snapshot() AS snapshot \gset
\setenv EDP_SNAPSHOT :snapshot
\! pg_dump --format=custom --snapshot="\$EDP_SNAPSHOT" --file="\$EDP_DUMP_FILE" && touch "\$EDP_DUMP_FILE.ok"
WITH counts AS ($COUNTS_SQL)
SELECT json_build_object(
         'format_version', 1,
         'database', current_database(),
         'created', to_char(transaction_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
         'server_version', split_part(current_setting('server_version'), ' ', 1),
         'tables', coalesce((SELECT json_object_agg(name, rows ORDER BY name) FROM counts), '{}'::json)),
       (SELECT count(*) FROM counts),
       (SELECT coalesce(sum(rows), 0) FROM counts);
COMMIT;
SQL
  [ -f "$tmp.ok" ] || die "pg_dump of $PGDATABASE failed (its message is above)"
  pg_restore --list "$tmp" >/dev/null || die "pg_restore cannot read the new dump $tmp"
  IFS=$'\t' read -r manifest tables rows <"$tmp.out"
  size=$(stat -c %s "$tmp")
  digest=$(sha256sum "$tmp" | cut -d' ' -f1)
  printf '%s, "archive": "%s", "format": "custom", "size": %s, "sha256": "%s"}\n' \
    "${manifest%\}}" "$name" "$size" "$digest" >"$tmp.manifest"
  # The archive first, its manifest last: a dump without a manifest is not finished.
  mv "$tmp" "$archive"
  mv "$tmp.manifest" "$archive$MANIFEST_SUFFIX"
  log "dumped $tables tables, $rows rows, $size bytes"
  local deleted
  deleted=$(prune_dumps)
  printf '{"archive": "%s", "manifest": "%s", "size": %s, "sha256": "%s", "tables": %s, "rows": %s, "seconds": %s, "deleted": %s}\n' \
    "$archive" "$archive$MANIFEST_SUFFIX" "$size" "$digest" "$tables" "$rows" "$(($(date +%s) - started))" "$deleted"
}

# Keep at most DUMP_KEEP_COUNT dumps, none older than DUMP_KEEP_AGE, and always the newest.
# Unfinished ones (no manifest, or a .partial left by a killed run) go after a day.
prune_dumps() {
  local now index=0 manifest stamp archive deleted=()
  now=$(date +%s)
  while read -r manifest; do
    [ -n "$manifest" ] || continue
    index=$((index + 1))
    archive=${manifest%"$MANIFEST_SUFFIX"}
    stamp=${archive#"$PGDATABASE-"}
    stamp=${stamp%.dump}
    if ((index > 1)) && ((index > DUMP_KEEP_COUNT || now - $(stamp_epoch "$stamp") > DUMP_KEEP_SECONDS)); then
      rm -rf "${DUMPS:?}/$archive" "${DUMPS:?}/$manifest"
      deleted+=("$archive")
      log "deleted $archive (retention: $DUMP_KEEP_COUNT dumps, $DUMP_KEEP_AGE)"
    fi
  done < <(find "$DUMPS" -maxdepth 1 -name "$PGDATABASE-*.dump$MANIFEST_SUFFIX" -printf '%f\n' | sort -r)
  find "$DUMPS" -maxdepth 1 -name '.*.partial*' -mmin +1440 -exec rm -rf {} + 2>/dev/null || true
  while read -r archive; do
    [ -n "$archive" ] && [ ! -e "$DUMPS/$archive$MANIFEST_SUFFIX" ] || continue
    rm -rf "${DUMPS:?}/$archive"
    log "deleted $archive, which has no manifest"
  done < <(find "$DUMPS" -maxdepth 1 -name "$PGDATABASE-*.dump" -mmin +1440 -printf '%f\n')
  json_list "${deleted[@]}"
}

# Restore ARCHIVE into a new database and check every table's rows against the manifest.
# Prints "<tables> <rows>"; drops the database and fails on any difference.
restore_into() {
  local archive=$1 database=$2 problems figures
  "${PSQL[@]}" --dbname=postgres --set=db="$database" --set=owner="$DB_OWNER" \
    <<<'CREATE DATABASE :"db" OWNER :"owner" TEMPLATE template0;'
  # Objects are created as the owner (SET ROLE), whoever owned them in the source.
  if ! pg_restore --no-owner --role="$DB_OWNER" --exit-on-error --dbname="$database" "$archive"; then
    drop_database "$database"
    die "pg_restore of $archive into $database failed (its message is above); $database was dropped"
  fi
  problems=$("${PSQL[@]}" --dbname="$database" --set=manifest="$(cat "$archive$MANIFEST_SUFFIX")" <<<"$COMPARE_SQL")
  figures=$(tail -n 1 <<<"$problems")
  problems=$(head -n -1 <<<"$problems")
  if [ -n "$problems" ]; then
    drop_database "$database"
    die "the restore of $archive differs from its manifest: ${problems//$'\n'/; }"
  fi
  printf '%s' "$figures"
}

drop_database() {
  "${PSQL[@]}" --dbname=postgres --set=db="$1" <<<'DROP DATABASE IF EXISTS :"db" WITH (FORCE);' \
    || log "could not drop database $1: drop it by hand"
}

cmd_restore() {
  local archive stamp restored previous started figures
  lock
  archive=$(resolve_archive "${1:-newest}")
  check_digest "$archive"
  stamp=$(date -u +%Y%m%dt%H%M%Sz)
  restored="${PGDATABASE}_restore_$stamp"
  previous="${PGDATABASE}_before_restore_$stamp"
  started=$(date +%s)
  log "restoring $archive into $restored"
  figures=$(restore_into "$archive" "$restored")
  # Swap: the current database is renamed, not dropped, so nothing is lost.
  log "swapping $restored in as $PGDATABASE; the current one becomes $previous"
  "${PSQL[@]}" --dbname=postgres --set=db="$PGDATABASE" --set=restored="$restored" --set=previous="$previous" <<'SQL' >/dev/null
SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname IN (:'db', :'restored') AND pid <> pg_backend_pid();
BEGIN;
ALTER DATABASE :"db" RENAME TO :"previous";
ALTER DATABASE :"restored" RENAME TO :"db";
COMMIT;
SQL
  # pg_restore made PgBouncer's schema and auth function the database owner's: the superuser's
  # again, or PgBouncer could not log anyone in (and the owner could rewrite what it returns).
  if [ -s "$PGBOUNCER_SQL_FILE" ]; then
    "${PSQL[@]}" --dbname=postgres --set=pgbouncer_user="$PGBOUNCER_USER" --set=airflow_database="$PGDATABASE" \
      --file="$PGBOUNCER_SQL_FILE" >/dev/null || die "PgBouncer's auth function could not be made again in $PGDATABASE"
  fi
  printf '{"archive": "%s", "database": "%s", "previous": "%s", "tables": %s, "rows": %s, "seconds": %s}\n' \
    "$archive" "$PGDATABASE" "$previous" "${figures% *}" "${figures#* }" "$(($(date +%s) - started))"
}

cmd_drill() {
  local archive scratch started figures created age
  archive=$(resolve_archive "${1:-newest}")
  created=$(manifest_field "$archive" created)
  age=$(($(date +%s) - $(date -u -d "$created" +%s)))
  if [ -n "$MAX_AGE" ] && ((age > MAX_AGE_SECONDS)); then
    die "$archive is older than max_age $MAX_AGE: created $created, ${age}s ago (are the scheduled dumps running?)"
  fi
  check_digest "$archive"
  scratch="${PGDATABASE}_drill_$(date -u +%Y%m%dt%H%M%Sz)_$$"
  started=$(date +%s)
  SCRATCH_DATABASE=$scratch
  log "drill: restoring $archive into the scratch database $scratch"
  figures=$(restore_into "$archive" "$scratch")
  printf '{"archive": "%s", "created": "%s", "rpo_seconds": %s, "rto_seconds": %s, "tables": %s, "rows": %s}\n' \
    "$archive" "$created" "$age" "$(($(date +%s) - started))" \
    "${figures% *}" "${figures#* }"
}

cmd_newest() {
  local archive
  archive=$(resolve_archive newest)
  printf '{"archive": "%s", "created": "%s"}\n' "$archive" "$(manifest_field "$archive" created)"
}

# -- base backups and point-in-time recovery -------------------------------------------------

cmd_basebackup() {
  local stamp target tmp started size deleted=() index=0 name oldest
  lock
  mkdir -p "$BASE" "$WAL"
  stamp=$(new_stamp "$BASE/")
  target="$BASE/$stamp"
  tmp="$BASE/.$stamp.partial"
  started=$(date +%s)
  CLEANUP_PATHS+=("$tmp")
  log "base backup into $target"
  # The WAL comes from the archive (the server waits until the backup's last segment is
  # archived); pg_verifybackup proves every file and that the archive holds the WAL needed.
  pg_basebackup --pgdata="$tmp" --format=plain --wal-method=none --checkpoint=fast \
    --manifest-checksums=SHA256 --label="edp-backup $stamp" --no-password
  pg_verifybackup --quiet --wal-directory="$WAL" "$tmp" || die "pg_verifybackup refused the base backup $tmp"
  mv "$tmp" "$target"
  # Recovery can stop at any moment after this (rounded up to the next second).
  date -u -d '+1 second' +%Y-%m-%dT%H:%M:%SZ >"$target.done"
  size=$(du -sb "$target" | cut -f1)
  while read -r name; do
    [ -n "$name" ] || continue
    index=$((index + 1))
    if ((index > BASE_KEEP_COUNT)); then
      rm -rf "${BASE:?}/$name" "${BASE:?}/$name.done"
      deleted+=("$name")
      log "deleted base backup $name (retention: $BASE_KEEP_COUNT)"
    else
      oldest=$name
    fi
  done < <(find "$BASE" -maxdepth 1 -name '*.done' -printf '%f\n' | sed 's/\.done$//' | sort -r)
  # WAL before the oldest kept base backup can no longer be replayed onto anything.
  local first_wal
  first_wal=$(sed -n 's/^START WAL LOCATION: .* (file \([0-9A-F]\{24\}\))$/\1/p' "$BASE/$oldest/backup_label")
  pg_archivecleanup "$WAL" "$first_wal"
  printf '{"base_backup": "%s", "size": %s, "first_wal": "%s", "seconds": %s, "deleted": %s}\n' \
    "$target" "$size" "$first_wal" "$(($(date +%s) - started))" "$(json_list "${deleted[@]}")"
}

# Check the time to recover to and find the newest base backup that ends before it.
# Sets PITR_TARGET (the server's spelling of the time) and PITR_BASE; changes nothing.
plan_pitr() {
  local target=${1:-} target_epoch name end
  [ -n "$target" ] || die "a point-in-time restore needs the time to recover to (ISO 8601, with its zone)"
  [[ $target =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}[T\ ][0-9:.]+(Z|[+-][0-9:]+)$ ]] \
    || die "'$target' is not an ISO 8601 time with a zone, such as 2026-11-28T17:00:00Z"
  target_epoch=$(date -u -d "$target" +%s 2>/dev/null) || die "'$target' is not a valid time"
  ((target_epoch <= $(date +%s))) || die "$target is in the future"
  # The server's recovery_target_time takes no ISO 8601 "T...Z" form: UTC, spelled its way.
  PITR_TARGET=$(date -u -d "$target" '+%Y-%m-%d %H:%M:%S.%6N+00')
  PITR_BASE=""
  while read -r name; do
    [ -n "$name" ] || continue
    end=$(date -u -d "$(cat "$BASE/$name.done")" +%s)
    if ((end <= target_epoch)); then PITR_BASE=$name; break; fi
  done < <(find "$BASE" -maxdepth 1 -name '*.done' -printf '%f\n' 2>/dev/null | sed 's/\.done$//' | sort -r)
  [ -n "$PITR_BASE" ] || die "no base backup in $BASE ends before $target: take one with playbooks/backup.yml -e backup_base=true; recovery reaches back to the end of the oldest one"
}

cmd_pitr_plan() {
  plan_pitr "${1:-}"
  printf '{"base_backup": "%s", "target_time": "%s"}\n' "$BASE/$PITR_BASE" "$PITR_TARGET"
}

cmd_pitr_prepare() {
  local target=${1:-} aside
  : "${PGDATA:?PGDATA is not set}"
  plan_pitr "$target"
  if [ -f "$PGDATA/postmaster.pid" ] && pg_ctl status --pgdata="$PGDATA" >/dev/null 2>&1; then
    die "the server on $PGDATA runs: stop it first"
  fi
  lock
  aside="$PGDATA.before-restore-$(date -u +%Y%m%dT%H%M%SZ)"
  log "setting $PGDATA aside as $aside; laying down base backup $PITR_BASE for recovery to $target"
  mv "$PGDATA" "$aside"
  cp -a "$BASE/$PITR_BASE" "$PGDATA"
  chmod 0700 "$PGDATA"
  if [ "$(id -u)" = 0 ]; then chown -R --reference="$aside" "$PGDATA"; fi
  touch "$PGDATA/recovery.signal"
  cat >>"$PGDATA/postgresql.auto.conf" <<CONF
# edp-backup.sh pitr-prepare: recovery to $target (pitr-finish resets these)
restore_command = 'cp "$WAL/%f" "%p"'
recovery_target_time = '$PITR_TARGET'
recovery_target_action = 'promote'
CONF
  if [ "$(id -u)" = 0 ]; then chown --reference="$aside" "$PGDATA/recovery.signal" "$PGDATA/postgresql.auto.conf"; fi
  printf '{"base_backup": "%s", "target_time": "%s", "previous_data": "%s"}\n' "$BASE/$PITR_BASE" "$PITR_TARGET" "$aside"
}

cmd_pitr_finish() {
  local waited=0 timeout=${PITR_TIMEOUT:-3600}
  until [ "$("${PSQL[@]}" --dbname=postgres <<<'SELECT pg_is_in_recovery();' 2>/dev/null)" = f ]; do
    ((waited < timeout)) || die "the server is still recovering after ${timeout}s"
    sleep 2
    waited=$((waited + 2))
  done
  "${PSQL[@]}" --dbname=postgres <<'SQL' >/dev/null
ALTER SYSTEM RESET restore_command;
ALTER SYSTEM RESET recovery_target_time;
ALTER SYSTEM RESET recovery_target_action;
SELECT pg_reload_conf();
SQL
  printf '{"recovered": true, "timeline": %s, "waited_seconds": %s}\n' \
    "$("${PSQL[@]}" --dbname=postgres <<<'SELECT timeline_id FROM pg_control_checkpoint();')" "$waited"
}

# The settings are checked before anything is done, each named when it is wrong.
for setting in DUMP_KEEP_COUNT BASE_KEEP_COUNT; do
  [[ ${!setting} =~ ^[1-9][0-9]*$ ]] || die "$setting '${!setting}' is not a whole number of at least 1"
done
DUMP_KEEP_SECONDS=$(seconds "$DUMP_KEEP_AGE" DUMP_KEEP_AGE)
if [ -n "$MAX_AGE" ]; then MAX_AGE_SECONDS=$(seconds "$MAX_AGE" MAX_AGE); fi

command=${1:-}
[ $# -gt 0 ] && shift
case $command in
  dump) cmd_dump "$@" ;;
  basebackup) cmd_basebackup "$@" ;;
  restore) cmd_restore "$@" ;;
  drill) cmd_drill "$@" ;;
  pitr-plan) cmd_pitr_plan "$@" ;;
  pitr-prepare) cmd_pitr_prepare "$@" ;;
  pitr-finish) cmd_pitr_finish "$@" ;;
  newest) cmd_newest "$@" ;;
  *) die "usage: edp-backup.sh dump|basebackup|restore [ARCHIVE]|drill [ARCHIVE]|pitr-plan TIME|pitr-prepare TIME|pitr-finish|newest" ;;
esac
