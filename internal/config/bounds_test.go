package config_test

import (
	"errors"
	"strings"
	"testing"

	grpipe "github.com/grpipe/grpipe"
)

// Defect 11: every numeric setting refuses NaN, infinities and values
// beyond a sane bound, naming the setting; and a blank web token is refused.
func TestSettingBounds(t *testing.T) {
	cases := []struct{ name, yaml, key string }{
		{"ratio NaN", "max_reject_ratio: NaN\n", "max_reject_ratio"},
		{"ratio yaml nan", "max_reject_ratio: .nan\n", "max_reject_ratio"},
		{"ratio Inf", "max_reject_ratio: Inf\n", "max_reject_ratio"},
		{"ratio -Inf", "max_reject_ratio: -.inf\n", "max_reject_ratio"},
		{"ratio huge", "max_reject_ratio: 1e309\n", "max_reject_ratio"},
		{"ratio above 1", "max_reject_ratio: 1.5\n", "max_reject_ratio"},
		{"threads huge", "duckdb:\n  threads: 100000\n", "duckdb.threads"},
		{"threads negative", "duckdb:\n  threads: -1\n", "duckdb.threads"},
		{"parallelism huge", "parallelism: 100000\n", "parallelism"},
		{"retention huge", "processed_retention: 2000000\n", "processed_retention"},
		{"memory NaN", "duckdb:\n  memory_limit: NaNGB\n", "duckdb.memory_limit"},
		{"memory huge", "duckdb:\n  memory_limit: 1e400GB\n", "duckdb.memory_limit"},
		{"memory negative", "duckdb:\n  memory_limit: -1GB\n", "duckdb.memory_limit"},
		{"memory no unit", "duckdb:\n  memory_limit: lots\n", "duckdb.memory_limit"},
		{"memory tiny", "duckdb:\n  memory_limit: 10KB\n", "duckdb.memory_limit"},
		{"transform memory no unit", "duckdb:\n  transform_memory_limit: 1024\n", "duckdb.transform_memory_limit"},
		{"CSV transform memory tiny", "duckdb:\n  transform_csv_memory_limit: 512KB\n", "duckdb.transform_csv_memory_limit"},
		{"warehouse memory tiny", "duckdb:\n  warehouse_memory_limit: 1KB\n", "duckdb.warehouse_memory_limit"},
		{"retry delay huge", "orchestrator:\n  retry_delay: 1000h\n", "orchestrator.retry_delay"},
		{"grace huge", "orchestrator:\n  grace_period: 100h\n", "orchestrator.grace_period"},
		{"task timeout huge", "orchestrator:\n  tasks:\n    GoodReadsETLJob: {timeout: 1000h}\n", "orchestrator.tasks.GoodReadsETLJob.timeout"},
		{"webhook timeout huge", "alerts:\n  webhook:\n    url: https://h.example.org/\n    timeout: 1h\n", "alerts.webhook.timeout"},
		{"retries huge", "orchestrator:\n  retries: 1000\n", "orchestrator.retries"},
		{"blank token", "web:\n  token: \"   \"\n", "web.token"},
		{"padded token", "web:\n  token: \" s3cret\"\n", "web.token"},
		{"host with a slash", "web:\n  hosts: [a/b]\n", "web.hosts"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := load(t, tc.yaml, nil, nil)
			if !errors.Is(err, grpipe.ErrBadInput) || !strings.Contains(err.Error(), tc.key) {
				t.Fatalf("%q: %v, want a refusal naming %s", tc.yaml, err, tc.key)
			}
		})
	}
	for _, ok := range []string{"max_reject_ratio: 0\n", "max_reject_ratio: 1\n", "duckdb:\n  threads: 256\n  memory_limit: 512MiB\n",
		"duckdb:\n  memory_limit: 1.5 GB\n", "web:\n  hosts: [grpipe.internal, Grpipe.Example.org]\n  secure_cookies: true\n"} {
		if _, err := load(t, ok, nil, nil); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	if _, err := load(t, "", map[string]string{"GRPIPE_DUCKDB_WAREHOUSE_MEMORY_LIMIT": "lots"}, nil); !errors.Is(err, grpipe.ErrBadInput) ||
		!strings.Contains(err.Error(), "GRPIPE_DUCKDB_WAREHOUSE_MEMORY_LIMIT") {
		t.Errorf("GRPIPE_DUCKDB_WAREHOUSE_MEMORY_LIMIT=lots: %v, want a refusal naming the variable", err)
	}
	if _, err := load(t, "", map[string]string{"GRPIPE_MAX_REJECT_RATIO": "NaN"}, nil); !errors.Is(err, grpipe.ErrBadInput) {
		t.Errorf("GRPIPE_MAX_REJECT_RATIO=NaN: %v", err)
	}
}
