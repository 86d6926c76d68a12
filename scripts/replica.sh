#!/usr/bin/env bash
# Starts (or stops) a streaming read replica of the local PostgreSQL primary, for tests and CI.
# usage: scripts/replica.sh start|stop|status
# env: PRIMARY_PORT (5432), REPLICA_PORT (5433), REPLICA_DIR (/tmp/tradeql-pg/replica)
set -euo pipefail
PRIMARY_PORT=${PRIMARY_PORT:-5432}
REPLICA_PORT=${REPLICA_PORT:-5433}
BASE=${REPLICA_BASE:-/tmp/tradeql-pg}
DIR="$BASE/replica"
BIN=${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}

as_pg() { if [ "$(id -u)" = 0 ]; then su postgres -c "$*"; else bash -c "$*"; fi; }
in_recovery() { psql -h 127.0.0.1 -p "$REPLICA_PORT" -U postgres -d postgres -Atc 'select pg_is_in_recovery()' 2>/dev/null || true; }
# In recovery is not enough: a copy whose WAL the primary has recycled stays in recovery and never catches up.
streaming() {
  for _ in $(seq 1 "${1:-10}"); do
    [ "$(psql -h 127.0.0.1 -p "$REPLICA_PORT" -U postgres -d postgres -Atc "select status from pg_stat_wal_receiver" 2>/dev/null || true)" = streaming ] && return 0
    sleep 1
  done
  return 1
}

# A stock cluster may have no pg_hba line for replication: add a loopback-only one and reload.
allow_replication() {
  local hba
  hba=$(psql -h 127.0.0.1 -p "$PRIMARY_PORT" -U postgres -d postgres -Atc 'show hba_file')
  if ! grep -Eq '^[[:space:]]*host[[:space:]]+replication' "$hba"; then
    echo "host replication all 127.0.0.1/32 trust" >> "$hba"
    psql -h 127.0.0.1 -p "$PRIMARY_PORT" -U postgres -d postgres -Atc 'select pg_reload_conf()' >/dev/null
    sleep 1
  fi
}

# Debian keeps postgresql.conf and pg_hba.conf outside the data directory, so a base backup has none:
# write our own. A hot standby needs these limits at least as high as the primary's.
write_config() {
  local q="select string_agg(name || ' = ' || setting, E'\\n') from pg_settings where name in
    ('max_connections','max_worker_processes','max_wal_senders','max_prepared_transactions','max_locks_per_transaction')"
  { echo "hot_standby = on"; echo "hot_standby_feedback = on"; echo "max_standby_streaming_delay = 5s"
    psql -h 127.0.0.1 -p "$PRIMARY_PORT" -U postgres -d postgres -Atc "$q"
    [ -n "${REPLICA_APPLY_DELAY:-}" ] && echo "recovery_min_apply_delay = '$REPLICA_APPLY_DELAY'"
  } > "$DIR/postgresql.conf"
  printf 'local all all trust\nhost all all 127.0.0.1/32 trust\nhost all all ::1/128 trust\n' > "$DIR/pg_hba.conf"
  [ "$(id -u)" = 0 ] && chown postgres:postgres "$DIR/postgresql.conf" "$DIR/pg_hba.conf"
  return 0
}

case "${1:-start}" in
  status) [ "$(in_recovery)" = t ] && streaming 1 && echo "replica on $REPLICA_PORT: streaming" || { echo "replica on $REPLICA_PORT: down"; exit 1; } ;;
  stop)
    [ -d "$DIR" ] && as_pg "$BIN/pg_ctl -D $DIR -m fast -w stop" >/dev/null 2>&1 || true ;;
  start)
    if [ "$(in_recovery)" = t ] && streaming 5; then echo "replica on $REPLICA_PORT: already streaming"; exit 0; fi
    if [ "$(id -u)" = 0 ]; then install -d -o postgres -g postgres "$BASE"; else mkdir -p "$BASE"; fi
    # An old copy may be too far behind or broken: try it once, else take a fresh base backup.
    if [ -d "$DIR" ] && as_pg "$BIN/pg_ctl -D $DIR -l $BASE/replica.log -o \"-c listen_addresses=127.0.0.1 -p $REPLICA_PORT -k $BASE\" -w -t 30 start" >/dev/null 2>&1 \
       && sleep 1 && [ "$(in_recovery)" = t ] && streaming 10; then
      echo "replica on $REPLICA_PORT: restarted"; exit 0
    fi
    as_pg "$BIN/pg_ctl -D $DIR -m immediate -w stop" >/dev/null 2>&1 || true
    rm -rf "$DIR"
    allow_replication
    as_pg "$BIN/pg_basebackup -h 127.0.0.1 -p $PRIMARY_PORT -U postgres -D $DIR -R -X stream -c fast"
    write_config
    as_pg "$BIN/pg_ctl -D $DIR -l $BASE/replica.log -o \"-c listen_addresses=127.0.0.1 -p $REPLICA_PORT -k $BASE\" -w -t 60 start" >/dev/null
    for _ in $(seq 1 30); do [ "$(in_recovery)" = t ] && break; sleep 1; done
    [ "$(in_recovery)" = t ] && streaming 30 || { echo "replica did not come up; see $BASE/replica.log" >&2; exit 1; }
    echo "replica on $REPLICA_PORT: streaming from $PRIMARY_PORT" ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
