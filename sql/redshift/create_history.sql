-- The fact table in Amazon Redshift: one row per creator, the newest as_of. Columns in the
-- order of marts/history. Lists and colours are SUPER; distributed and sorted on id, the
-- merge's join key. Safe to re-run.
CREATE TABLE IF NOT EXISTS history (
    id              VARCHAR(64) NOT NULL,
    username        VARCHAR(256),
    as_of           DATE NOT NULL,
    dates           SUPER,
    followers       SUPER,
    impressions     SUPER,
    reach           SUPER,
    doc_count       BIGINT NOT NULL,
    fol_avg         DOUBLE PRECISION,
    eng_avg         DOUBLE PRECISION,
    engagement_rate DOUBLE PRECISION,
    colors          SUPER,
    palette_date    DATE,
    PRIMARY KEY (id)
)
DISTKEY (id)
SORTKEY (id);
