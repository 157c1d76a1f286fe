{{/* The latest version of each id of the clean files .Files, written to .Out:
     every row but the losers, found in the keys files beside them, so the
     clean rows are read once. A loser is a row of an id that appears more
     than once whose ordinal is not the id's winner (greatest timestamp,
     then greatest ordinal); rows whose ordinal is in .Exclude
     (derived-id collisions) never win and are never written. The grouping
     counts the rows of each id and finds its winner at once (dedup_count,
     a grouping of its own, went), and only the losers meet the clean rows
     (a few per cent of them, none when no id appears twice), where the
     winners' semi-join held every id's ordinal: 2.9-3.0 against 3.1-3.4
     CPU-s for the reviews of the 1 M batch (BENCHMARKS.md, issue 14,
     "Round 8").
     The winner's ordinal is the low 63 bits of the greatest t·2⁶³ + _ord
     (an ordinal is below 2⁶³): one HUGEINT per id in the grouping, where
     arg_max by a struct of (t, _ord) kept a sort key per id. On the
     11.4 GB batch's 9.3 M review keys (6 M ids), DuckDB's memory went from
     1,084 to 807 MiB at a 2GB limit, and the dedup passes at 512MB, where
     arg_max ran out of memory (and spilled at 768MB: 49 against 32 CPU-s). */ -}}
COPY (
  SELECT {{idents .Columns}} FROM read_csv({{paths .Files}}, {{template "tsv_options" .}}, columns={{template "csv_columns" .FileColumns}})
  WHERE "_ord" NOT IN (
    SELECT l."_ord" FROM read_csv({{paths .KeyFiles}}, {{template "tsv_options" .}}, columns={{template "csv_columns" .KeyColumns}}) l
    JOIN (
      SELECT "k", (max(("t"::HUGEINT << 63) | "_ord") & 9223372036854775807)::BIGINT AS "w"
      FROM read_csv({{paths .KeyFiles}}, {{template "tsv_options" .}}, columns={{template "csv_columns" .KeyColumns}}){{with .Exclude}} WHERE "_ord" NOT IN ({{ints .}}){{end}}
      GROUP BY "k" HAVING count(*) > 1
    ) d ON l."k" IS NOT DISTINCT FROM d."k" AND l."_ord" <> d."w"
  ){{with .Exclude}} AND "_ord" NOT IN ({{ints .}}){{end}}
) TO {{str .Out}} (FORMAT parquet, {{codec .Compression}}, ROW_GROUP_SIZE_BYTES {{str .RowGroupBytes}})
