{{/* Each source key of the files .Files once, where it first appears. */ -}}
CREATE OR REPLACE TEMP TABLE "_sk_first" AS SELECT "entity", "source", "source_key", "id", min("_ord") AS "_ord",
  arg_min("source_file", "_ord") AS "source_file", arg_min("line", "_ord") AS "line" FROM {{template "source_keys" .}} GROUP BY "entity", "source", "source_key", "id"
