package web

// chartRoutes registers the dashboard, the trend charts, the warehouse
// explorer and the quarantine download, and their API endpoints.
func (s *Server) chartRoutes() {
	m := s.mux
	m.HandleFunc("GET /analytics", s.pageAnalytics)
	m.HandleFunc("GET /dags/{dag}/duration", s.pageDuration)
	m.HandleFunc("GET /dags/{dag}/runs/{run}/quarantine/csv", s.pageQuarantineCSV)
	m.HandleFunc("GET /warehouse/tables/{table}", s.pageBrowse)
	m.HandleFunc("GET /warehouse/tables/{table}/csv", s.pageBrowseCSV)
	m.HandleFunc("GET /warehouse/query", s.pageQuery)
	m.HandleFunc("GET /warehouse/query/csv", s.pageQueryCSV)

	m.HandleFunc("GET /api/v1/analytics", s.apiAnalytics)
	m.HandleFunc("GET /api/v1/dags/{dag}/duration", s.apiDuration)
	m.HandleFunc("GET /api/v1/dags/{dag}/dagRuns/~/taskInstances", s.apiTaskInstancesAcrossRuns)
	m.HandleFunc("GET /api/v1/dags/{dag}/dagRuns/{run}/taskInstances/{task}/tries", s.apiTries)
	m.HandleFunc("GET /api/v1/dags/{dag}/dagRuns/{run}/quarantine", s.apiQuarantine)
	m.HandleFunc("GET /api/v1/warehouse/tables", s.apiTables)
	m.HandleFunc("GET /api/v1/warehouse/tables/{table}/rows", s.apiBrowse)
	m.HandleFunc("GET /api/v1/warehouse/query", s.apiQuery)
}
