-- First-boot initialisation for the postgres service in docker-compose.yml.
--
-- The official postgres image runs this once, with psql, as the superuser,
-- and only when the data volume is empty. It creates:
--   * role skybridge, owner of database skybridge (the application);
--   * role temporal, owner of databases temporal and temporal_visibility
--     (Temporal's schemas are then installed by the temporal-admin-tools job).
-- Owning its databases matters: since PostgreSQL 15 only the owner may create
-- objects in a database's public schema.
--
-- Passwords come from the container environment (psql \getenv, PostgreSQL
-- 15+), so no secret is written in this file.

\set ON_ERROR_STOP on

\getenv skybridge_password SKYBRIDGE_DB_PASSWORD
\getenv temporal_password TEMPORAL_DB_PASSWORD

\if :{?skybridge_password}
\else
  DO $$ BEGIN RAISE EXCEPTION 'SKYBRIDGE_DB_PASSWORD is not set in the postgres container'; END $$;
\endif
\if :{?temporal_password}
\else
  DO $$ BEGIN RAISE EXCEPTION 'TEMPORAL_DB_PASSWORD is not set in the postgres container'; END $$;
\endif

-- Application
CREATE ROLE skybridge LOGIN PASSWORD :'skybridge_password';
CREATE DATABASE skybridge OWNER skybridge;

-- Temporal. CREATEDB because `temporal-sql-tool create` checks that privilege
-- before noticing that the database already exists.
CREATE ROLE temporal LOGIN CREATEDB PASSWORD :'temporal_password';
CREATE DATABASE temporal OWNER temporal;
CREATE DATABASE temporal_visibility OWNER temporal;

-- The visibility schema needs btree_gin. It is a trusted extension, so the
-- owner could create it too, but doing it here as superuser removes the doubt.
\connect temporal_visibility
CREATE EXTENSION IF NOT EXISTS btree_gin;
