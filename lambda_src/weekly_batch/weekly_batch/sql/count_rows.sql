-- Rows of the target date in the source table. Values are query parameters
-- (the target date); only the table identifiers come from configuration.
SELECT COUNT(*) AS row_count
FROM `${project}.${dataset}.${source_table}`
WHERE event_date = @target_date
