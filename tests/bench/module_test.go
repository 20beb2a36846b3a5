package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestLibraryModuleLeavesOutPlotting checks the library's module graph (what
// `go get github.com/stompft/stompft` brings into a user's module) holds
// none of the modules only the bench and storm programs need: they live in
// this nested module and tests/storm's.
func TestLibraryModuleLeavesOutPlotting(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	gomod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(gomod), "module github.com/stompft/stompft\n") {
		t.Fatalf("%s/go.mod is not the library's:\n%s", root, gomod)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "list", "-m", "all")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOWORK=off")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go list -m all in %s: %v\n%s", root, err, out)
	}
	for _, forbidden := range []string{"gonum.org/", "codeberg.org/go-latex", "codeberg.org/go-pdf", "github.com/ajstarks/svgo", "golang.org/x/image"} {
		for _, line := range strings.Split(string(out), "\n") {
			if strings.HasPrefix(line, forbidden) {
				t.Errorf("the library's module graph holds %s (a plotting module): keep it in tests/bench or tests/storm's go.mod", line)
			}
		}
	}
	if strings.Contains(string(gomod), "gonum.org/") {
		t.Errorf("%s/go.mod requires gonum:\n%s", root, gomod)
	}
}
