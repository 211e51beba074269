-- One load, sent as one BatchExecuteStatement: Redshift runs it as a single transaction, so
-- a failure anywhere leaves history as it was. No TRUNCATE here: it would commit.
-- {mart_s3} and {iam_role} are filled in as quoted literals.
--
-- The staging table matches the mart's Parquet columns by position (COPY … PARQUET maps
-- columns in file order); SERIALIZETOJSON turns the list columns into SUPER. `colors` is
-- JSON text in the mart and is parsed into SUPER by JSON_PARSE in the merge.
CREATE TEMP TABLE history_stage (
    id              VARCHAR(64),
    username        VARCHAR(256),
    as_of           DATE,
    dates           SUPER,
    followers       SUPER,
    impressions     SUPER,
    reach           SUPER,
    doc_count       BIGINT,
    fol_avg         DOUBLE PRECISION,
    eng_avg         DOUBLE PRECISION,
    engagement_rate DOUBLE PRECISION,
    colors          VARCHAR(65535),
    palette_date    DATE
);
COPY history_stage FROM {mart_s3} IAM_ROLE {iam_role} FORMAT AS PARQUET SERIALIZETOJSON;
-- Newest as_of wins: drop the rows this load replaces (same or older date) …
DELETE FROM history USING history_stage
WHERE history.id = history_stage.id AND history.as_of <= history_stage.as_of;
-- … and insert every staged row whose id is not (any longer) in history.
INSERT INTO history
SELECT s.id, s.username, s.as_of, s.dates, s.followers, s.impressions, s.reach, s.doc_count,
       s.fol_avg, s.eng_avg, s.engagement_rate, JSON_PARSE(s.colors), s.palette_date
FROM history_stage s
WHERE NOT EXISTS (SELECT 1 FROM history h WHERE h.id = s.id);
DROP TABLE history_stage;
