package transform

import (
	"reflect"
	"testing"
)

type scanned struct {
	Line   int64
	Fields []string
	Err    bool
}

func scanAll(data string) []scanned {
	s := newScanner([]byte(data))
	var out []scanned
	var r record
	for s.next(&r) {
		var fs []string
		for _, f := range r.fields {
			fs = append(fs, string(f))
		}
		out = append(out, scanned{Line: r.line, Fields: fs, Err: r.err != ""})
	}
	return out
}

func TestScanner(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []scanned
	}{
		{"plain", "a,b\n1,2\n", []scanned{{1, []string{"a", "b"}, false}, {2, []string{"1", "2"}, false}}},
		{"no final newline", "a,b\n1,2", []scanned{{1, []string{"a", "b"}, false}, {2, []string{"1", "2"}, false}}},
		{"crlf", "a,b\r\n1,2\r\n", []scanned{{1, []string{"a", "b"}, false}, {2, []string{"1", "2"}, false}}},
		{"bom", "\xef\xbb\xbfa,b\n1,2\n", []scanned{{1, []string{"a", "b"}, false}, {2, []string{"1", "2"}, false}}},
		{"empty fields", ",\n,x,\n", []scanned{{1, []string{"", ""}, false}, {2, []string{"", "x", ""}, false}}},
		{"quoted comma and quote", "\"a,b\",\"say \"\"hi\"\"\"\n", []scanned{{1, []string{"a,b", `say "hi"`}, false}}},
		{"quoted newline", "1,\"two\nlines\",3\n4,5,6\n", []scanned{{1, []string{"1", "two\nlines", "3"}, false}, {3, []string{"4", "5", "6"}, false}}},
		{"quoted crlf end", "1,\"x\"\r\n2,\"y\"\r\n", []scanned{{1, []string{"1", "x"}, false}, {2, []string{"2", "y"}, false}}},
		{"quoted last field empty after", "\"a\",\n", []scanned{{1, []string{"a", ""}, false}}},
		{"blank lines skipped", "a\n\n\r\nb\n", []scanned{{1, []string{"a"}, false}, {4, []string{"b"}, false}}},
		{"bare quote inside unquoted field", "ab\"c,d\n", []scanned{{1, []string{"ab\"c", "d"}, false}}},
		{"text after closing quote resyncs", "\"a\"x,b\n1,2\n", []scanned{{1, nil, true}, {2, []string{"1", "2"}, false}}},
		{"unterminated quote at end", "1,2\n3,\"open\n", []scanned{{1, []string{"1", "2"}, false}, {2, nil, true}}},
		{"unterminated quote resyncs next line", "3,\"open\n4,5\n", []scanned{{1, nil, true}, {2, []string{"4", "5"}, false}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := scanAll(tt.in)
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("scan %q:\n got %+v\nwant %+v", tt.in, got, tt.want)
			}
		})
	}
}
