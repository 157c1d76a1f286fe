-- 1 when the subject's totals table holds the reviews of the window [$2, $3)
-- as they are stored now, else 0.
SELECT count(*) FROM {{ident .Table}} WHERE "subject" = CAST($1 AS VARCHAR) AND "window_start" = $2 AND "window_end" = $3
