-- Merge the staged rows into history, in the load's transaction: one row per id, the newest
-- as_of wins, an older date never overwrites a newer row, the same date is replaced (so
-- re-loading a date is idempotent).
INSERT INTO history AS h
SELECT * FROM history_stage
ON CONFLICT (id) DO UPDATE SET
    username        = EXCLUDED.username,
    as_of           = EXCLUDED.as_of,
    dates           = EXCLUDED.dates,
    followers       = EXCLUDED.followers,
    impressions     = EXCLUDED.impressions,
    reach           = EXCLUDED.reach,
    doc_count       = EXCLUDED.doc_count,
    fol_avg         = EXCLUDED.fol_avg,
    eng_avg         = EXCLUDED.eng_avg,
    engagement_rate = EXCLUDED.engagement_rate,
    colors          = EXCLUDED.colors,
    palette_date    = EXCLUDED.palette_date
WHERE h.as_of <= EXCLUDED.as_of
