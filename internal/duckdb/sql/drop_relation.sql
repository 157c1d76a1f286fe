DROP {{if .View}}VIEW{{else}}TABLE{{end}} IF EXISTS {{ident .Table}}
