package postgres_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	grpipe "github.com/grpipe/grpipe"
	"github.com/grpipe/grpipe/internal/postgres"
)

// Defect 10: a DSN that does not parse is refused without showing any of
// its secrets, whatever parameter holds them.
func TestParseErrorsHideSecrets(t *testing.T) {
	for _, dsn := range []string{
		"postgres://grpipe:s3cretpw@db:notaport/wh",
		"postgres://grpipe@db:notaport/wh?sslpassword=s3cretpw",
		"postgres://grpipe@db:notaport/wh?password=s3cretpw&sslmode=disable",
		"postgres://grpipe:s3cret/pw@db/wh",
	} {
		_, err := postgres.Open(context.Background(), dsn, postgres.Options{})
		if err == nil || !errors.Is(err, grpipe.ErrBadInput) {
			t.Errorf("Open(%q) = %v, want a refusal", dsn, err)
			continue
		}
		if strings.Contains(err.Error(), "s3cret") || strings.Contains(err.Error(), "pw@") {
			t.Errorf("Open(%q): %v shows the secret", dsn, err)
		}
	}
}
