{{/* One view of a table for the explorer: sorted by .Order (NULLs last),
     ties broken by the table's key (.Key, or .Tie for a table without
     one) in the same direction, searched in its text columns, one page.
     The parameters' positions are in .Arg: Search (an ILIKE pattern),
     Value and Key (a cursor: a row's sort value and key), Limit, Offset.
     With a cursor the page is the rows right after the cursor's row in the
     view's order, or right before it (.Reverse): keyset paging, so the
     warehouse skips no rows to reach a page far from the start, it only
     filters on the sort column and the key (browse_where).
     A table with a key is paged on the sort column and the key alone, then
     only the page's rows are read whole, joined back by key. Rows before a
     cursor are found in the reverse order (.Down: the inner scan walks
     downwards) and put back in the view's order by the outer ORDER BY.
     The rows are joined back by .RowID where the backend has one (DuckDB's
     rowid, their place in storage), else by key. DuckDB pushes the values
     of a join's build side of at most 50 rows into the scan of the table as
     a filter (dynamic_or_filter_threshold): on rowid the scan then reads
     only the row groups holding the page. */ -}}
{{- if and .Limit .Key -}}
SELECT {{range $i, $c := .Columns}}{{if $i}}, {{end}}"t".{{ident $c}}{{end}}
FROM {{ident .Table}} AS "t"
JOIN (
  SELECT {{with .RowID}}{{ident .}}{{else}}{{ident .Key}}{{end}} AS "grpipe_key"
  FROM {{ident .Table}}
  {{- template "browse_where" .}}
  ORDER BY {{ident .Order}} {{if .Down}}DESC{{else}}ASC{{end}} NULLS {{if .Reverse}}FIRST{{else}}LAST{{end}}
  {{- if ne .Order .Key}}, {{ident .Key}} {{if .Down}}DESC{{else}}ASC{{end}}{{end}}
  LIMIT {{param .Arg.Limit}} OFFSET {{param .Arg.Offset}}
) AS "p" ON "t".{{with .RowID}}{{ident .}}{{else}}{{ident .Key}}{{end}} = "p"."grpipe_key"
ORDER BY "t".{{ident .Order}} {{if .Desc}}DESC{{else}}ASC{{end}} NULLS LAST
{{- if ne .Order .Key}}, "t".{{ident .Key}} {{if .Desc}}DESC{{else}}ASC{{end}}{{end}}
{{- else -}}
SELECT {{idents .Columns}}
FROM {{ident .Table}}
{{- template "browse_where" .}}
ORDER BY {{ident .Order}} {{if .Desc}}DESC{{else}}ASC{{end}} NULLS LAST{{with .Tie}}, {{ident .}} {{if $.Desc}}DESC{{else}}ASC{{end}}{{end}}
{{- if .Limit}}
LIMIT {{param .Arg.Limit}} OFFSET {{param .Arg.Offset}}
{{- end}}
{{- end}}
{{define "browse_where"}}{{if or .Search .Cursor}}
WHERE {{if .Search}}({{range $i, $c := .TextColumns}}{{if $i}} OR {{end}}{{ident $c}} ILIKE {{param $.Arg.Search}} ESCAPE '\'{{end}}){{end}}
{{- if and .Search .Cursor}} AND {{end}}
{{- if .Cursor}}({{template "browse_cursor" .}}){{end}}{{end}}{{end}}
{{/* The rows after (or, .Reverse, before) the cursor's row in the view's
     order. .Down: "after" in the scan's direction means smaller values. The
     NULLs of the sort column come after every value. */ -}}
{{define "browse_cursor"}}
{{- if eq .Order .Key -}}
{{ident .Key}} {{template "browse_cmp" .}} {{template "browse_key" .}}
{{- else if .Cursor.Null -}}
{{ident .Order}} IS {{if .Reverse}}NOT NULL OR{{else}}NULL AND{{end}} {{ident .Key}} {{template "browse_cmp" .}} {{template "browse_key" .}}
{{- else -}}
{{ident .Order}} {{template "browse_cmp" .}} {{template "browse_value" .}} OR ({{ident .Order}} = {{template "browse_value" .}} AND {{ident .Key}} {{template "browse_cmp" .}} {{template "browse_key" .}})
{{- if not .Reverse}} OR {{ident .Order}} IS NULL{{end}}
{{- end}}{{end}}
{{define "browse_cmp"}}{{if .Down}}<{{else}}>{{end}}{{end}}
{{/* The cursor's values are bound as text and cast to the columns' types. */ -}}
{{define "browse_value"}}CAST(CAST({{param .Arg.Value}} AS {{.Text.Type}}) AS {{.SortColumn.Type}}){{end}}
{{define "browse_key"}}CAST(CAST({{param .Arg.Key}} AS {{.Text.Type}}) AS {{.KeyColumn.Type}}){{end}}
