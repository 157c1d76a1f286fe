package runstore

import "testing"

func TestRebind(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"SELECT 1", "SELECT 1"},
		{"UPDATE t SET a = ?, b = ? WHERE c = ?", "UPDATE t SET a = $1, b = $2 WHERE c = $3"},
		{"SELECT '?', \"a?\" FROM t WHERE x = ? -- why?\nAND y = ?", "SELECT '?', \"a?\" FROM t WHERE x = $1 -- why?\nAND y = $2"},
		{"SELECT 'it''s ?' WHERE a IN (?,?)", "SELECT 'it''s ?' WHERE a IN ($1,$2)"},
	} {
		if got := rebind(tc.in); got != tc.want {
			t.Errorf("rebind(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
