-- The week's summary, idempotent: one MERGE statement (atomic) makes the target's
-- rows for the week exactly the aggregate of the source's week, however often it runs.
MERGE `${project}.${dataset}.${target_table}` AS target
USING (
  SELECT @week_start AS week_start, @week_end AS week_end, user_id,
         COUNT(*) AS events, SUM(amount) AS amount
  FROM `${project}.${dataset}.${source_table}`
  WHERE event_date BETWEEN @week_start AND @week_end
  GROUP BY user_id
) AS source
ON target.week_start = source.week_start AND target.user_id = source.user_id
WHEN MATCHED THEN
  UPDATE SET week_end = source.week_end, events = source.events, amount = source.amount
WHEN NOT MATCHED THEN
  INSERT (week_start, week_end, user_id, events, amount)
  VALUES (source.week_start, source.week_end, source.user_id, source.events, source.amount)
WHEN NOT MATCHED BY SOURCE AND target.week_start = @week_start THEN
  DELETE
