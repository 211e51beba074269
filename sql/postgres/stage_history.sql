-- The staging table one load COPYs into; dropped when the load's transaction ends.
CREATE TEMP TABLE history_stage (LIKE history) ON COMMIT DROP;
