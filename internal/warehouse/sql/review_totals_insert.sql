-- The subject's totals over the reviews of the window [$1, $2) (see the
-- template totals), which its three analytics tables then rank.
INSERT INTO {{ident .Totals}} ({{ident .Key}}, "review_count", "rated_count", "average_review_rating")
{{template "totals" .Source}}
