#!/usr/bin/env bash
# Runs once, when the primary's volume is first initialised: docker-compose.yml mounts it into the postgres image's
# /docker-entrypoint-initdb.d, whose entrypoint runs it as user postgres against a temporary server on the Unix socket.
# The entrypoint sources it instead when it is not executable, so it sets no shell options, and its status is that of
# its last command. It creates the role the replica streams with, and lets that role make replication connections
# over the network (an "all" line in pg_hba.conf does not cover replication).
REPLICATION_USER=${REPLICATION_USER:-replicator}
: "${REPLICATION_PASSWORD:?REPLICATION_PASSWORD must be set}"

psql -v ON_ERROR_STOP=1 -X --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  --set=repl_user="$REPLICATION_USER" --set=repl_password="$REPLICATION_PASSWORD" <<'SQL' &&
create role :"repl_user" with login replication password :'repl_password';
SQL
  echo "host replication $REPLICATION_USER all scram-sha-256" >> "$PGDATA/pg_hba.conf"
