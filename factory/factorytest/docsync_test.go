package factorytest_test

import (
	"os"
	"strings"
	"testing"
)

// The snippet in docs/testing.md is docs_test.go, a test that runs here:
// this test fails when the two differ (apart from the package clause).
func TestTestingDocSnippetIsATestThatRuns(t *testing.T) {
	doc, err := os.ReadFile("../../docs/testing.md")
	if err != nil {
		t.Fatal(err)
	}
	code, err := os.ReadFile("docs_test.go")
	if err != nil {
		t.Fatal(err)
	}
	_, block, ok := strings.Cut(string(doc), "```go\n")
	if !ok {
		t.Fatal("docs/testing.md has no ```go block")
	}
	block, _, ok = strings.Cut(block, "```")
	if !ok {
		t.Fatal("docs/testing.md: the ```go block is not closed")
	}
	body := func(s string) string {
		_, rest, _ := strings.Cut(s, "\n") // drop the package clause
		return rest
	}
	if !strings.HasPrefix(block, "package ") {
		t.Fatalf("the snippet does not start with a package clause:\n%s", block)
	}
	if body(block) != body(string(code)) {
		t.Fatalf("docs/testing.md's snippet differs from docs_test.go; copy docs_test.go (after its package clause) into the doc.\ndoc:\n%s\ncode:\n%s", body(block), body(string(code)))
	}
}
