#!/usr/bin/env bash
# Entrypoint of the postgres-replica service (docker-compose.yml), run as root in the postgres image.
# On first start (no cluster in PGDATA) it clones the primary with pg_basebackup -R, which writes standby.signal and
# primary_conninfo, so PostgreSQL comes up as a hot standby streaming from the primary. A copy of an earlier primary
# (its volume was recreated: the system identifiers differ) is replaced by a fresh clone. Then it hands over to the
# image's own entrypoint, which finds the cluster, skips initdb and starts the service's command as user postgres.
#
# env: PGDATA (a subdirectory of the volume, so the clone can be made beside it and renamed into place),
#      PRIMARY_HOST (postgres), PRIMARY_PORT (5432), REPLICATION_USER (replicator), REPLICATION_PASSWORD (required),
#      PRIMARY_WAIT_SECONDS (120)
set -euo pipefail

PGDATA=${PGDATA:?PGDATA must be set}
PRIMARY_HOST=${PRIMARY_HOST:-postgres}
PRIMARY_PORT=${PRIMARY_PORT:-5432}
REPLICATION_USER=${REPLICATION_USER:-replicator}
PRIMARY_WAIT_SECONDS=${PRIMARY_WAIT_SECONDS:-120}
# libpq and pg_basebackup -R take the password from here; it ends up in primary_conninfo.
export PGPASSWORD=${REPLICATION_PASSWORD:?REPLICATION_PASSWORD must be set}
CONNINFO="host=$PRIMARY_HOST port=$PRIMARY_PORT user=$REPLICATION_USER application_name=postgres-replica"

log() { echo "replica-entrypoint: $*" >&2; }

# wait_for_primary SECONDS: true once the primary accepts connections, false after SECONDS.
wait_for_primary() {
  local deadline=$((SECONDS + $1))
  until pg_isready -q -h "$PRIMARY_HOST" -p "$PRIMARY_PORT"; do
    if ((SECONDS >= deadline)); then return 1; fi
    sleep 1
  done
}

primary_system_id() { psql "$CONNINFO replication=true" -XAtc IDENTIFY_SYSTEM | cut -d'|' -f1; }
local_system_id() { LC_ALL=C pg_controldata -D "$PGDATA" | sed -n 's/^Database system identifier: *//p'; }

clone() {
  local staging="$PGDATA.partial"
  log "cloning the primary $PRIMARY_HOST:$PRIMARY_PORT into $PGDATA"
  rm -rf "$staging"
  install -d -m 0700 -o postgres -g postgres "$staging"
  gosu postgres pg_basebackup --pgdata="$staging" --dbname="$CONNINFO" --write-recovery-conf \
    --wal-method=stream --checkpoint=fast
  rm -rf "$PGDATA"
  mv "$staging" "$PGDATA"
  log "clone complete; starting as a hot standby"
}

if [ -s "$PGDATA/PG_VERSION" ]; then
  # An existing copy: keep it unless it was cloned from a primary that no longer exists.
  if wait_for_primary 10; then
    primary_id=$(primary_system_id 2>/dev/null || true)
    local_id=$(local_system_id 2>/dev/null || true)
    if [ -n "$primary_id" ] && [ -n "$local_id" ] && [ "$primary_id" != "$local_id" ]; then
      log "this copy (system $local_id) is of another primary than $PRIMARY_HOST (system $primary_id)"
      clone
    fi
  fi
else
  if ! wait_for_primary "$PRIMARY_WAIT_SECONDS"; then
    log "the primary $PRIMARY_HOST:$PRIMARY_PORT did not accept connections within ${PRIMARY_WAIT_SECONDS}s"
    exit 1
  fi
  clone
fi

unset PGPASSWORD
exec docker-entrypoint.sh "$@"
