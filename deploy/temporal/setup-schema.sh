#!/bin/sh
# One-shot job (temporalio/admin-tools image): installs or upgrades Temporal's
# PostgreSQL schemas, the default store and the visibility store.
#
# Safe to run on every `docker compose up`:
#   * `create` is a no-op when the database already exists;
#   * `setup-schema -v 0.0` only creates the version tables, and leaves the
#     recorded version alone once it is above 0.0;
#   * `update-schema` applies only the versioned steps not applied yet, so a
#     newer admin-tools image upgrades the schema in place.
#
# Connection settings come from the environment (see docker-compose.yml); the
# password is read by temporal-sql-tool from SQL_PASSWORD, so it never appears
# on a command line.
set -eu

: "${SQL_HOST:=postgres}"
: "${SQL_PORT:=5432}"
: "${SQL_USER:=temporal}"
: "${SQL_PASSWORD:?SQL_PASSWORD must be set}"
: "${TEMPORAL_DB:=temporal}"
: "${TEMPORAL_VISIBILITY_DB:=temporal_visibility}"
: "${TEMPORAL_SCHEMA_DIR:=/etc/temporal/schema/postgresql/v12}"
export SQL_PASSWORD

sql_tool() {
  temporal-sql-tool --plugin postgres12 --ep "$SQL_HOST" -p "$SQL_PORT" -u "$SQL_USER" "$@"
}

# The postgres healthcheck already gates this job; retry the first contact
# anyway so a slow first boot does not fail the whole stack.
attempt=1
until sql_tool --db "$TEMPORAL_DB" create; do
  if [ "$attempt" -ge 30 ]; then
    echo "setup-schema: cannot reach PostgreSQL at $SQL_HOST:$SQL_PORT as $SQL_USER" >&2
    exit 1
  fi
  attempt=$((attempt + 1))
  sleep 2
done

setup() { # setup <database> <versioned schema dir>
  echo "setup-schema: $1"
  sql_tool --db "$1" create
  sql_tool --db "$1" setup-schema -v 0.0
  sql_tool --db "$1" update-schema -d "$2"
}

setup "$TEMPORAL_DB" "$TEMPORAL_SCHEMA_DIR/temporal/versioned"
setup "$TEMPORAL_VISIBILITY_DB" "$TEMPORAL_SCHEMA_DIR/visibility/versioned"

echo "setup-schema: done"
