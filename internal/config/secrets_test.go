package config_test

import (
	"strings"
	"testing"

	"github.com/grpipe/grpipe/internal/config"
)

// Defect 10: a warehouse setting that is refused is named in the message
// without its secrets, whatever its form.
func TestWarehouseErrorsHideSecrets(t *testing.T) {
	for _, w := range []string{
		"host=db user=grpipe password=s3cret dbname=wh",
		"host=db password = 's3 cr\\'et' dbname=wh",
		"postgres://grpipe:s3cret@db:notaport/wh%zz",
		"mysql://grpipe:s3cret@db/wh?sslpassword=s3cret",
	} {
		c := config.Default(t.TempDir())
		err := c.Set("warehouse", w)
		if err == nil {
			t.Errorf("warehouse %q accepted", w)
			continue
		}
		if strings.Contains(err.Error(), "cret") {
			t.Errorf("warehouse %q: %v shows the secret", w, err)
		}
	}
}
