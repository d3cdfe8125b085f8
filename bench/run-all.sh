#!/usr/bin/env bash
# Runs every benchmark of docs/BENCHMARKS.md in turn (45–60 minutes on
# 2 cores, most of it the two 1M-event runs) and keeps each report, a
# markdown table, in bench/out/results/<name>.md. QUICK=1 runs the
# scaled-down variants (about 6 minutes). Each program builds the service
# from the working tree itself, so a fixture and the binary that reads it
# always come from the same code.
set -euo pipefail
export GOTOOLCHAIN=go1.27.3 # go.mod requires it (see README)
cd "$(dirname "$0")/.."
mkdir -p bench/out/results

run() {
	local name=$1
	shift
	echo "== $name: $*" >&2
	"$@" | tee "bench/out/results/$name.md"
}

if [ "${QUICK:-0}" = 1 ]; then
	run micro go run ./bench/micro -count 3 -benchtime 300ms
	run ingest env ROUNDS=2 DURATION=5 N=80000 bench/ingest.sh
	run relay go run ./bench/relay -n 20000
	run relay-rss go run ./bench/relay -mode rss -n 100000
	run scale go run ./bench/scale -n 100000
	run fault go run ./bench/fault -cycles 5 -outage 4s -slow-for 8s -slow 64
else
	run micro go run ./bench/micro
	run ingest bench/ingest.sh
	run relay go run ./bench/relay
	run relay-rss go run ./bench/relay -mode rss
	run scale go run ./bench/scale
	run fault go run ./bench/fault
fi
