#!/usr/bin/env bash
# Measures earlier commits with today's harnesses, for the "History"
# table of docs/BENCHMARKS.md: each commit is exported with `git archive`
# (the repository is not touched), built into bench/out/history/, then
# measured by bench/ingest.sh (service only, its own same-run baseline) and
# bench/relay (a 30k backlog, its own same-run baseline). Ratios, not
# absolute numbers, are what compare across commits on a noisy machine.
#
#   bench/history.sh                      # the commits that changed the hot paths (about 20 min)
#   bench/history.sh ee89c9f HEAD         # any commits
#   ROUNDS=3 RELAY_N=50000 bench/history.sh
set -euo pipefail
export GOTOOLCHAIN=go1.27.3 # go.mod requires it (see README)

root=$(cd "$(dirname "$0")/.." && pwd)
out="$root/bench/out/history"
mkdir -p "$out"
ROUNDS=${ROUNDS:-2}
RELAY_N=${RELAY_N:-30000}
if [ $# -gt 0 ]; then
	commits=("$@")
else
	# First working service; envelope reader on gjson; store keyed in
	# receive order; delivery records inside the event record; claims
	# without rewriting the event record; persisted freelist (and more);
	# prefetched claims; and the newest commit.
	commits=(ee89c9f 853edd6 01e7bb7 5d7bdae ad52ba9 84ac4f1 d2ecdfb HEAD)
fi

summary="$out/summary.tsv"
: >"$summary"
for c in "${commits[@]}"; do
	rev=$(git -C "$root" rev-parse --short=7 "$c")
	subject=$(git -C "$root" log -1 --format=%s "$rev" | cut -c1-70)
	when=$(git -C "$root" log -1 --format=%cd --date=format:'%Y-%m-%d %H:%M' "$rev")
	src="$out/src-$rev"
	bin="$out/tagihan-relay-$rev"
	if [ ! -x "$bin" ]; then
		echo "history: building $rev ($subject)" >&2
		rm -rf "$src"
		mkdir -p "$src"
		git -C "$root" archive "$rev" | tar -x -C "$src"
		(cd "$src" && go build -o "$bin" ./cmd/tagihan-relay)
		rm -rf "$src"
	fi
	echo "history: measuring $rev" >&2
	ROUNDS=$ROUNDS WITH_SINK=0 PROFILE=0 RELAY_BIN="$bin" "$root/bench/ingest.sh" >"$out/$rev-ingest.md"
	(cd "$root" && go run ./bench/relay -bin "$bin" -n "$RELAY_N" -profile 0 -baseline 3s) >"$out/$rev-relay.md"
	ingest=$(grep '^- service/distinct:' "$out/$rev-ingest.md" | head -1)
	rounds=$(grep '^| [0-9]* | service/distinct |' "$out/$rev-ingest.md" | awk -F'|' '{ gsub(/ /, "", $5); printf "%s%s", sep, $5; sep = ", " }')
	rps=$(echo "$ingest" | sed -n 's/.*mean \([0-9]*\) req\/s, mean ratio \([0-9.]*\).*/\1\t\2/p')
	p99=$(echo "$ingest" | sed -n 's/.*p99 mean \([0-9.]*\) ms.*/\1/p')
	drain=$(grep '^| drain rate, whole backlog' "$out/$rev-relay.md" | sed -n 's/^| drain rate, whole backlog *| \([0-9]*\) deliveries\/s.*| \([0-9.]*\) *| .*/\1\t\2/p')
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$rev" "$when" "$subject" "$rps" "$rounds" "$p99" "$drain" >>"$summary"
done

echo "## History: earlier commits measured with today's harnesses"
echo
echo "| commit | date | change | ingest req/s | ingest ratio vs Echo (rounds) | ingest p99 ms | drain deliveries/s | drain ratio vs bare client |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- |"
awk -F'\t' '{ printf "| %s | %s | %s | %s | %s (%s) | %s | %s | %s |\n", $1, $2, $3, $4, $5, $6, $7, $8, $9 }' "$summary"
echo
echo "Reports per commit: bench/out/history/<commit>-ingest.md and -relay.md."
