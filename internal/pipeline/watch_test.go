package pipeline_test

import (
	"database/sql"
	"errors"
	"time"
)

// whenSeen is the fault tests' watcher: it runs query (a count) on db every
// poll until it counts a row, then calls act and sends nil on done. It sends
// the query's error, or an error saying missing once within has passed
// without a row.
func whenSeen(db *sql.DB, query string, within, poll time.Duration, act func(), missing string, done chan<- error) {
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		var n int
		if err := db.QueryRow(query).Scan(&n); err != nil {
			done <- err
			return
		}
		if n > 0 {
			act()
			done <- nil
			return
		}
		time.Sleep(poll)
	}
	done <- errors.New(missing)
}
