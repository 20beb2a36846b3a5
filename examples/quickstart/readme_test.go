package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestREADMEQuickStartIsThisProgram extracts every Go block the README marks
// with <!-- quickstart: PATH --> and requires it to be the file at PATH,
// byte for byte, so the quick start a newcomer copies is the one that
// compiles (go build ./...) and runs (TestQuickStartRuns).
func TestREADMEQuickStartIsThisProgram(t *testing.T) {
	root := filepath.Join("..", "..")
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile("(?s)<!-- quickstart: ([^ ]+) -->\n```go\n(.*?)```")
	blocks := re.FindAllSubmatch(readme, -1)
	if len(blocks) == 0 {
		t.Fatal("README.md has no <!-- quickstart: PATH --> block")
	}
	for _, b := range blocks {
		path := string(b[1])
		want, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(path)))
		if err != nil {
			t.Fatalf("README names %s: %v", path, err)
		}
		if got := string(b[2]); got != string(want) {
			t.Errorf("README's block for %s differs from the file (first difference at line %d): copy the file into the README", path, firstDiffLine(got, string(want)))
		}
	}
}

func firstDiffLine(a, b string) int {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := range al {
		if i >= len(bl) || al[i] != bl[i] {
			return i + 1
		}
	}
	return len(al) + 1
}

// TestREADMELinksResolve: every relative link of the README names a file of
// the repository.
func TestREADMELinksResolve(t *testing.T) {
	root := filepath.Join("..", "..")
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range regexp.MustCompile(`\]\(([^)#:]+)(#[^)]*)?\)`).FindAllSubmatch(readme, -1) {
		if _, err := os.Stat(filepath.Join(root, filepath.FromSlash(string(m[1])))); err != nil {
			t.Errorf("README links to %s: %v", m[1], err)
		}
	}
}
