-- The reference's transform of one entity: typed CSV read (broken rows
-- skipped), text cleaned, dates converted, latest version of each id kept
-- (max timestamp per id, then a semi-join), written as zstd Parquet.
COPY (
  SELECT c.* FROM (
    SELECT {{.Clean}} FROM {{.Source}}
  ) c
  SEMI JOIN (
    SELECT {{.Key}}, max(record_create_timestamp) AS ts FROM {{.Source}} GROUP BY {{.Key}}
  ) w ON c.{{.Key}} = w.{{.Key}} AND c.record_create_timestamp = w.ts
) TO {{.Out}} (FORMAT parquet, COMPRESSION zstd)
