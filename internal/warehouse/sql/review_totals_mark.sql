-- The subject's totals table holds the reviews of the window [$2, $3).
INSERT INTO {{ident .Table}} ("subject", "window_start", "window_end") VALUES (CAST($1 AS VARCHAR), $2, $3)
