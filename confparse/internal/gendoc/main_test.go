package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stompft/stompft/confparse"
)

// TestGeneratedTablesMatchTheRegistry fails when docs/keys.md, or the
// README once it carries the markers, holds a key table other than the
// one the registry generates: run go generate ./confparse.
func TestGeneratedTablesMatchTheRegistry(t *testing.T) {
	root := filepath.Join("..", "..", "..")
	table := markdown(confparse.KeyDocs())
	for _, tc := range []struct {
		file     string
		required bool // the file must carry the markers
	}{
		{"docs/keys.md", true},
		{"README.md", false},
	} {
		path := filepath.Join(root, tc.file)
		old, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		doc, err := update(old, table)
		if errors.Is(err, errNoMarkers) && !tc.required {
			t.Logf("%s has no key table markers: not checked", tc.file)
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", tc.file, err)
		}
		if !bytes.Equal(doc, old) {
			t.Errorf("%s: the key table differs from confparse.KeyDocs; run go generate ./confparse\n%s", tc.file, firstDiff(string(old), string(doc)))
		}
	}
}

// TestTableHasEveryKey checks the rendered table has a row per key of the
// registry, with its default and when an edit takes effect.
func TestTableHasEveryKey(t *testing.T) {
	table := markdown(confparse.KeyDocs())
	rows := strings.Count(table, "\n| `")
	if want := len(confparse.Keys()); rows != want {
		t.Errorf("%d rows, want %d (one per key)", rows, want)
	}
	for _, k := range confparse.KeyDocs() {
		var row string
		for _, l := range strings.Split(table, "\n") {
			if strings.HasPrefix(l, "| `"+k.Key+"`") {
				row = l
			}
		}
		if row == "" {
			t.Errorf("no row for %s", k.Key)
			continue
		}
		if cells := strings.Count(strings.ReplaceAll(row, `\|`, ""), "|"); cells != 6 {
			t.Errorf("row of %s has %d separators, want 6: %s", k.Key, cells, row)
		}
		if !strings.HasSuffix(row, "| "+string(k.Reload)+" |") {
			t.Errorf("row of %s does not end with its reload %q: %s", k.Key, k.Reload, row)
		}
		if k.Default != "" && !strings.Contains(row, "| "+k.Default+" |") {
			t.Errorf("row of %s lacks its default %q: %s", k.Key, k.Default, row)
		}
	}
}

func TestUpdate(t *testing.T) {
	const table = "| t |\n"
	tests := []struct {
		name string
		in   string
		want string
		err  string
	}{
		{name: "replaces only the region", in: "# T\n\n<!-- keys:begin -->\nold\nrows\n<!-- keys:end -->\nafter\n",
			want: "# T\n\n<!-- keys:begin -->\n| t |\n<!-- keys:end -->\nafter\n"},
		{name: "empty region", in: "<!-- keys:begin -->\n<!-- keys:end -->\n", want: "<!-- keys:begin -->\n| t |\n<!-- keys:end -->\n"},
		{name: "end marker last, no newline", in: "<!-- keys:begin -->\nx\n<!-- keys:end -->", want: "<!-- keys:begin -->\n| t |\n<!-- keys:end -->"},
		{name: "CRLF", in: "a\r\n<!-- keys:begin -->\r\nx\r\n<!-- keys:end -->\r\n", want: "a\r\n<!-- keys:begin -->\r\n| t |\n<!-- keys:end -->\r\n"},
		{name: "no markers", in: "# T\n", err: errNoMarkers.Error()},
		{name: "markers inside a line are not markers", in: "see `<!-- keys:begin -->` and `<!-- keys:end -->`\n", err: errNoMarkers.Error()},
		{name: "begin only", in: "<!-- keys:begin -->\n", err: "only one of"},
		{name: "end before begin", in: "<!-- keys:end -->\n<!-- keys:begin -->\n", err: "comes before"},
		{name: "twice", in: "<!-- keys:begin -->\n<!-- keys:end -->\n<!-- keys:begin -->\n<!-- keys:end -->\n", err: "more than once"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := update([]byte(tc.in), table)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Errorf("got %q\nwant %q", got, tc.want)
			}
			again, err := update(got, table)
			if err != nil || !bytes.Equal(again, got) {
				t.Errorf("not idempotent: %q, %v", again, err)
			}
		})
	}
}

// TestRunCheckAndWrite drives the command: -check reports a stale table
// and writes nothing; without -check the table is written; a file without
// markers is left alone.
func TestRunCheckAndWrite(t *testing.T) {
	dir := t.TempDir()
	stale := filepath.Join(dir, "keys.md")
	plain := filepath.Join(dir, "plain.md")
	const staleDoc = "# Keys\n<!-- keys:begin -->\n| `url` | old |\n<!-- keys:end -->\nend\n"
	for p, s := range map[string]string{stale: staleDoc, plain: "# nothing\n"} {
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var out, errOut bytes.Buffer
	if code := run([]string{"-check", stale, plain}, &out, &errOut); code != 1 {
		t.Fatalf("-check on a stale table: exit %d, want 1\n%s%s", code, out.String(), errOut.String())
	}
	if !strings.Contains(out.String(), "keys.md: the key table differs") || !strings.Contains(errOut.String(), "plain.md: no") {
		t.Errorf("output:\n%s%s", out.String(), errOut.String())
	}
	if b, _ := os.ReadFile(stale); string(b) != staleDoc {
		t.Fatalf("-check wrote the file:\n%s", b)
	}
	out.Reset()
	errOut.Reset()
	if code := run([]string{stale, plain}, &out, &errOut); code != 0 {
		t.Fatalf("write: exit %d\n%s%s", code, out.String(), errOut.String())
	}
	b, _ := os.ReadFile(stale)
	if !strings.HasPrefix(string(b), "# Keys\n<!-- keys:begin -->\n") || !strings.HasSuffix(string(b), "<!-- keys:end -->\nend\n") ||
		!strings.Contains(string(b), "| `reconnect_max_delay` |") {
		t.Errorf("written file:\n%s", b)
	}
	if p, _ := os.ReadFile(plain); string(p) != "# nothing\n" {
		t.Errorf("a file without markers was changed: %q", p)
	}
	if code := run([]string{"-check", stale}, &out, &errOut); code != 0 {
		t.Errorf("-check after writing: exit %d", code)
	}
	if code := run(nil, &out, &errOut); code != 2 {
		t.Errorf("no file: exit %d, want 2", code)
	}
}

// firstDiff shows where two texts start to differ.
func firstDiff(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := 0; i < len(al) && i < len(bl); i++ {
		if al[i] != bl[i] {
			return "line " + strconv.Itoa(i+1) + ":\n  file:      " + al[i] + "\n  generated: " + bl[i]
		}
	}
	return "lengths differ"
}
