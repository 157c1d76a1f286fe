package fake

import "testing"

// TestCheckTarget: CSV files go to a folder or the landing zone (one of
// them), UCSD dumps only to a folder, and no other format is taken.
func TestCheckTarget(t *testing.T) {
	for _, tc := range []struct {
		name, format, out string
		land              bool
		want              string // the complaint; "" when accepted
	}{
		{"csv to a folder", "csv", "dir", false, ""},
		{"csv landed", "csv", "", true, ""},
		{"csv nowhere", "csv", "", false, "grpipe fake: give --out DIR or --land (one of them)"},
		{"csv to both", "csv", "dir", true, "grpipe fake: give --out DIR or --land (one of them)"},
		{"ucsd to a folder", "ucsd", "dir", false, ""},
		{"ucsd landed", "ucsd", "", true, "grpipe fake --format ucsd: give --out DIR (then `grpipe land DIR/*.json.gz`)"},
		{"ucsd nowhere", "ucsd", "", false, "grpipe fake --format ucsd: give --out DIR (then `grpipe land DIR/*.json.gz`)"},
		{"unknown format", "xml", "dir", false, `grpipe fake: --format "xml": give csv or ucsd`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckTarget(tc.format, tc.out, tc.land)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.want != "" && (err == nil || err.Error() != tc.want):
				t.Fatalf("got %v, want %q", err, tc.want)
			}
		})
	}
}
