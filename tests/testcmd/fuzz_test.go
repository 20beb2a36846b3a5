package testcmd

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stompft/stompft/internal/leakcheck"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

// fakeGo is a `go` command for fuzz_one: `go test ... -fuzz ...` prints
// $FAKE_FUZZ_OUT and exits $FAKE_FUZZ_RC; any other `go test` (the corpus
// re-run) prints "corpus run" and exits $FAKE_RUN_RC.
const fakeGo = `#!/usr/bin/env bash
for a in "$@"; do
	if [ "$a" = -fuzz ]; then
		printf '%s\n' "$FAKE_FUZZ_OUT"
		exit "$FAKE_FUZZ_RC"
	fi
done
echo "corpus run"
exit "$FAKE_RUN_RC"
`

// fuzzOne runs tests/fuzz.sh's fuzz_one with the fake go command and
// reports whether it counted the target as passed, and what it printed.
func fuzzOne(t *testing.T, fuzzOut string, fuzzRC, runRC int) (bool, string) {
	t.Helper()
	bin := t.TempDir()
	if err := os.WriteFile(filepath.Join(bin, "go"), []byte(fakeGo), 0o755); err != nil {
		t.Fatal(err)
	}
	lib, err := filepath.Abs("../fuzz.sh")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-c",
		`. "$1"; fuzztime=1s; inmod() { (cd "$1" && shift && "$@"); }; fuzz_one . example.com/p FuzzX`, "bash", lib)
	cmd.Env = append(os.Environ(),
		"PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"),
		"FAKE_FUZZ_OUT="+fuzzOut,
		"FAKE_FUZZ_RC="+strconv.Itoa(fuzzRC),
		"FAKE_RUN_RC="+strconv.Itoa(runRC))
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("fuzz_one did not return: %s", out)
	}
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("running bash: %v", err)
	}
	return err == nil, string(out)
}

// Go 1.26's fuzz coordinator can fail a target with a bare "context
// deadline exceeded" as -fuzztime ends (go.dev/issue/75804): that alone, with
// the corpus passing, must not fail CI; a real finding, another failure, or
// a corpus that fails must.
func TestFuzzOneTellsTheDeadlineRaceFromAFinding(t *testing.T) {
	const race = "fuzz: elapsed: 10s, execs: 154066 (13852/sec), new interesting: 0 (total: 53)\n--- FAIL: FuzzX (10.12s)\n    context deadline exceeded\nFAIL\nexit status 1"
	for _, tc := range []struct {
		name          string
		out           string
		fuzzRC, runRC int
		pass          bool
	}{
		{"passed", "PASS\nok  \texample.com/p\t10.0s", 0, 1, true},
		{"deadline race, corpus passes", race, 1, 0, true},
		{"deadline race, corpus fails", race, 1, 1, false},
		{"failing input written", "--- FAIL: FuzzX (0.31s)\n    --- FAIL: FuzzX (0.00s)\n        x_test.go:12: bad\n    Failing input written to testdata/fuzz/FuzzX/1f2e\n    context deadline exceeded\nFAIL", 1, 0, false},
		{"panic", "--- FAIL: FuzzX (0.31s)\n    panic: index out of range\n    context deadline exceeded\nFAIL", 1, 0, false},
		{"other failure", "--- FAIL: FuzzX (0.01s)\n    fuzzing process hung or terminated unexpectedly: exit status 2\nFAIL", 1, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pass, out := fuzzOne(t, tc.out, tc.fuzzRC, tc.runRC)
			if pass != tc.pass {
				t.Fatalf("counted as passed: %v, want %v; printed:\n%s", pass, tc.pass, out)
			}
			if tc.name == "deadline race, corpus passes" && !strings.Contains(out, "go.dev/issue/75804") {
				t.Fatalf("the reason is not printed:\n%s", out)
			}
		})
	}
}
