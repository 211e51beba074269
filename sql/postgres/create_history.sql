-- The fact table in PostgreSQL (and Postgres-protocol warehouses): one row per creator, the
-- newest as_of. Columns in the order of marts/history. Safe to re-run.
-- Lists are arrays aligned with `dates`; `colors` is jsonb (queryable; jsonb does not keep
-- key order, the mart's palette_json text does).
CREATE TABLE IF NOT EXISTS history (
    id              text PRIMARY KEY,
    username        text,
    as_of           date NOT NULL,
    dates           date[] NOT NULL,
    followers       bigint[] NOT NULL,
    impressions     bigint[] NOT NULL,
    reach           bigint[] NOT NULL,
    doc_count       bigint NOT NULL,
    fol_avg         double precision,
    eng_avg         double precision,
    engagement_rate double precision,
    colors          jsonb,
    palette_date    date
);
