#!/usr/bin/env bash
# PostgreSQL's first start (docker-entrypoint-initdb.d): one database per service,
# each owned by a login role of the same name whose password comes from the
# environment (<SERVICE>_DB_PASSWORD). A service's role can reach only its own
# database: CONNECT is revoked from PUBLIC.
set -euo pipefail

for service in identity directory catalog requests notifications; do
    password_var="${service^^}_DB_PASSWORD"
    password="${!password_var:?$password_var is not set}"
    psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
        -v name="$service" -v password="$password" <<'SQL'
CREATE ROLE :"name" LOGIN PASSWORD :'password';
CREATE DATABASE :"name" OWNER :"name";
REVOKE CONNECT ON DATABASE :"name" FROM PUBLIC;
SQL
done
