#!/usr/bin/env bash
# Ingest benchmark: tagihan-relay against a bare Echo v4 handler
# (bench/baseline), same machine, same run, same wrk load. See
# docs/BENCHMARKS.md ("Ingest").
#
#   bench/ingest.sh                       # 1 round x 8 s per target, ~2.5 min
#   ROUNDS=3 DURATION=20 N=500000 bench/ingest.sh  # longer
#
# Each round runs, one after the other: the baseline; the service with one
# file sink (SINK_FILE_KIND=file, default subject ordering) under each load
# shape of SHAPES: "distinct" (every event a new transaction), "1000" (1,000
# events per transaction) and "one" (one transaction receiving every
# event), which shows whether ordering costs grow with a subject's history;
# and the service forwarding distinct events to a local HTTP sink
# (bench/sink) that drains concurrently. The service gets only
# TAGIHANAI_WEBHOOK_SECRETS (the generator's secret), RELAY_DATA_DIR (a
# fresh temp dir per run), its sink and loopback listeners on free ports.
# Load: wrk -t2 -c64, ~1 KiB deliveries with distinct event ids and valid
# signatures made just before each run (bench/ingestgen: one data file per
# wrk thread, each thread sends only its own). Then one more, unmeasured,
# service run with a CPU profile from the admin listener's
# /debug/pprof/profile, attributed by bench/profsum. It prints the
# per-round table, then the profile, then a summary table (one row per
# target: req/s, ratio to the same-run baseline, p99, non-2xx, socket
# errors). Everything it builds and writes goes to bench/out/.
#
# Knobs (environment):
#   ROUNDS       rounds of all targets (1)
#   DURATION     seconds of load per run (8)
#   CONNECTIONS  wrk connections (64)
#   THREADS      wrk threads (2)
#   N            distinct deliveries generated per run (160000; the service
#                must not send more than N in DURATION, or ids are resent
#                and the table says WRAPPED: raise N with DURATION)
#   SHAPES       service load shapes ("distinct 1000 one")
#   WITH_SINK    1: also the service+sink run (1)
#   PROFILE      1: the profile run, about 15 s more (1)
#   DRAIN_WAIT   seconds to wait for the HTTP sink to catch up (60)
#   RELAY_BIN    a prebuilt service binary to measure instead of building
#                the working tree's
#   WRK_TIMEOUT  seconds before a wrk run is killed as hung (DURATION + 60)
set -euo pipefail
export GOTOOLCHAIN=go1.27.3 # go.mod requires it (see README)

ROUNDS=${ROUNDS:-1}
DURATION=${DURATION:-8}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-2}
N=${N:-160000}
WITH_SINK=${WITH_SINK:-1}
SHAPES=${SHAPES:-distinct 1000 one}
PROFILE=${PROFILE:-1}
DRAIN_WAIT=${DRAIN_WAIT:-60}
RELAY_BIN=${RELAY_BIN:-}
WRK_TIMEOUT=${WRK_TIMEOUT:-$((DURATION + 60))}
SECRET=whsec_benchsecret # bench/internal/benchkit.Secret

root=$(cd "$(dirname "$0")/.." && pwd)
out="$root/bench/out"
mkdir -p "$out"
work=$(mktemp -d "${TMPDIR:-/tmp}/tagihan-ingest.XXXXXX")
pids=()

cleanup() {
	for p in "${pids[@]}"; do
		kill -9 "$p" 2>/dev/null || true
	done
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { echo "ingest.sh: $*" >&2; }

forget_pid() { # forget_pid PID: it has exited, do not kill it at exit
	local keep=() p
	for p in "${pids[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done
	pids=("${keep[@]+"${keep[@]}"}")
}

# --- wrk ----------------------------------------------------------------
if ! command -v wrk >/dev/null 2>&1; then
	log "wrk not found: installing it with apt-get"
	sudo=""
	[ "$(id -u)" = 0 ] || sudo=sudo
	$sudo apt-get update -qq >&2
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq wrk >&2
fi

# --- build ----------------------------------------------------------------
tree="$(git -C "$root" rev-parse --short=12 HEAD 2>/dev/null || echo unknown)$(git -C "$root" diff --quiet HEAD -- . ':(exclude)bench' 2>/dev/null || echo +dirty)"
if [ -n "${RELAY_BIN:-}" ]; then build_desc="prebuilt $RELAY_BIN"; else build_desc="working tree at $tree"; fi
log "building into $out (service: $build_desc)"
(
	cd "$root"
	if [ -z "${RELAY_BIN:-}" ]; then go build -o "$out/tagihan-relay" ./cmd/tagihan-relay; fi
	go build -o "$out/baseline" ./bench/baseline
	go build -o "$out/ingestgen" ./bench/ingestgen
	go build -o "$out/sink" ./bench/sink
	go build -o "$out/profsum" ./bench/profsum
)

relay_bin=${RELAY_BIN:-$out/tagihan-relay}
clk_tck=$(getconf CLK_TCK)

# --- helpers --------------------------------------------------------------

cpu_ticks() { # cpu_ticks PID: utime + stime of a process, in clock ticks
	awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0
}

# wait_listening LOGFILE PID: prints the "listening" JSON line, waits <= 20 s.
wait_listening() {
	local i line
	for i in $(seq 1 200); do
		line=$(grep -m1 '"msg":"listening"' "$1" 2>/dev/null || true)
		if [ -n "$line" ]; then
			echo "$line"
			return 0
		fi
		kill -0 "$2" 2>/dev/null || { log "process exited:"; cat "$1" >&2; return 1; }
		sleep 0.1
	done
	log "not listening after 20 s:"
	cat "$1" >&2
	return 1
}

field_of() { # field_of "k=v k2=v2" KEY
	echo "$1" | tr ' ' '\n' | grep "^$2=" | head -1 | cut -d= -f2
}

json_field() { # json_field LINE KEY: a string field of a flat JSON line
	echo "$1" | grep -o "\"$2\":\"[^\"]*\"" | head -1 | sed 's/.*:"\(.*\)"/\1/'
}

metric() { # metric METRICS_TEXT NAME: the value of one unlabelled or exactly labelled sample
	echo "$1" | awk -v n="$2" '$1 == n { print $2; found = 1; exit } END { if (!found) print 0 }'
}

generate() { # generate [EVENTS_PER_SUBJECT]: fresh signatures (5-minute tolerance) before each run
	"$out/ingestgen" -n "$N" -per-subject "${1:-1}" -threads "$THREADS" -out "$work/requests.lua"
}

per_subject() { # per_subject SHAPE: events per transaction of a load shape
	case "$1" in
	distinct) echo 1 ;;
	one) echo "$N" ;;
	*[!0-9]* | "") log "SHAPES: $1 is not distinct, one or a number"; exit 2 ;;
	*) echo "$1" ;;
	esac
}

# run_wrk HOSTURL: runs the load, prints the RESULT line.
run_wrk() {
	local res
	res=$(timeout -k 5 "$WRK_TIMEOUT" wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --timeout 5s -s "$work/requests.lua" "$1" 2>&1) || {
		log "wrk failed or hung (killed after ${WRK_TIMEOUT} s):"
		echo "$res" >&2
		return 1
	}
	echo "$res" >"$work/wrk.last"
	echo "$res" | grep '^RESULT' || { echo "$res" >&2; return 1; }
}


# start_service [SINK_URL]: starts the relay with an HTTP sink to SINK_URL,
# else with one file sink; sets svc_pid, svc_public, svc_admin, svc_data.
start_service() {
	svc_data=$(mktemp -d "$work/data.XXXXXX")
	local extra=(RELAY_SINKS=file SINK_FILE_KIND=file "SINK_FILE_PATH=$svc_data/events.ndjson")
	if [ -n "${1:-}" ]; then
		extra=(RELAY_SINKS=erp SINK_ERP_KIND=http "SINK_ERP_URL=$1")
	fi
	env -i "PATH=$PATH" "HOME=$HOME" "RELAY_DATA_DIR=$svc_data" RELAY_LISTEN_ADDR=127.0.0.1:0 RELAY_ADMIN_ADDR=127.0.0.1:0 \
		"TAGIHANAI_WEBHOOK_SECRETS=$SECRET" "${extra[@]+"${extra[@]}"}" \
		"$relay_bin" serve >/dev/null 2>"$svc_data/relay.log" &
	svc_pid=$!
	pids+=("$svc_pid")
	local line
	line=$(wait_listening "$svc_data/relay.log" "$svc_pid")
	svc_public="http://$(json_field "$line" public)"
	svc_admin="http://$(json_field "$line" admin)"
}

stop_service() {
	kill -TERM "$svc_pid" 2>/dev/null || true
	local i
	for i in $(seq 1 400); do kill -0 "$svc_pid" 2>/dev/null || break; sleep 0.1; done
	kill -9 "$svc_pid" 2>/dev/null || true
	wait "$svc_pid" 2>/dev/null || true
	forget_pid "$svc_pid"
	rm -rf "$svc_data"
}

# pending_of ADMIN_URL: pending + in_flight of sink erp from /v1/stats.
pending_of() {
	local s
	s=$(curl -fsS "$1/v1/stats" | tr -d ' \n' | grep -o '"erp":{[^}]*}' || true)
	local p f
	p=$(echo "$s" | grep -o '"pending":[0-9]*' | cut -d: -f2)
	f=$(echo "$s" | grep -o '"in_flight":[0-9]*' | cut -d: -f2)
	echo $(( ${p:-0} + ${f:-0} ))
}

sink_distinct() { curl -fsS "$1" | grep -o '"distinct":[0-9]*' | cut -d: -f2; }

# --- the runs ---------------------------------------------------------------
rows="$work/rows.tsv" # round target rps p50 p99 max non2xx errors requests distinct batch notes
: >"$rows"
load_start=$(cut -d' ' -f1-3 /proc/loadavg)

for round in $(seq 1 "$ROUNDS"); do
	log "round $round/$ROUNDS: generating $N signed deliveries"
	generate 1

	# Baseline.
	"$out/baseline" 2>"$work/baseline.log" &
	bpid=$!
	pids+=("$bpid")
	line=$(wait_listening "$work/baseline.log" "$bpid")
	burl="http://$(json_field "$line" public)"
	log "round $round: baseline at $burl"
	c0=$(cpu_ticks "$bpid")
	r=$(run_wrk "$burl")
	r="$r cpu_ticks=$(( $(cpu_ticks "$bpid") - c0 ))"
	kill -TERM "$bpid" 2>/dev/null || true
	wait "$bpid" 2>/dev/null || true
	forget_pid "$bpid"
	printf '%s\tbaseline\t%s\t-\t-\n' "$round" "$r" >>"$rows"

	targets=()
	for shape in $SHAPES; do targets+=("service/$shape"); done
	[ "$WITH_SINK" = 1 ] && targets+=(service+sink)
	for t in "${targets[@]}"; do
		surl=""
		case "$t" in
		service/*)
			shape=${t#service/}
			[ "$shape" = distinct ] || generate "$(per_subject "$shape")"
			;;
		*) generate 1 ;;
		esac
		if [ "$t" = service+sink ]; then
			"$out/sink" 2>"$work/sink.log" >"$work/sink.out" &
			spid=$!
			pids+=("$spid")
			line=$(wait_listening "$work/sink.log" "$spid")
			surl=$(json_field "$line" url)
			sstats=$(json_field "$line" stats)
		fi
		start_service "$surl"
		log "round $round: $t at $svc_public (admin $svc_admin)"
		m0=$(curl -fsS "$svc_admin/metrics")
		c0=$(cpu_ticks "$svc_pid")
		r=$(run_wrk "$svc_public")
		r="$r cpu_ticks=$(( $(cpu_ticks "$svc_pid") - c0 ))"
		m=$(curl -fsS "$svc_admin/metrics")
		# Commits between the two scrapes: the wrk run (plus its Lua
		# set-up, when nothing is posted).
		bsum=$(awk -v a="$(metric "$m0" tagihan_relay_store_commit_batch_size_sum)" -v b="$(metric "$m" tagihan_relay_store_commit_batch_size_sum)" 'BEGIN { print b - a }')
		bcnt=$(awk -v a="$(metric "$m0" tagihan_relay_store_commit_batch_size_count)" -v b="$(metric "$m" tagihan_relay_store_commit_batch_size_count)" 'BEGIN { print b - a }')
		csum=$(awk -v a="$(metric "$m0" tagihan_relay_store_commit_duration_seconds_sum)" -v b="$(metric "$m" tagihan_relay_store_commit_duration_seconds_sum)" 'BEGIN { print b - a }')
		accepted=$(metric "$m" 'tagihan_relay_received_total{result="accepted",source="default"}')
		dups=$(metric "$m" 'tagihan_relay_received_total{result="duplicate",source="default"}')
		batch=$(awk -v s="$bsum" -v c="$bcnt" 'BEGIN { if (c > 0) printf "%.1f", s / c; else print "-" }')
		# writer_busy: share of the load's wall time (wrk's own duration)
		# the single store writer spent committing.
		commit=$(awk -v s="$csum" -v c="$bcnt" -v d="$(field_of "$r" duration_us)" 'BEGIN { if (c > 0 && d > 0) printf "commit_ms_mean=%.2f writer_busy=%.0f%%", 1000 * s / c, 100 * s / (d / 1e6) }')
		notes="accepted=$accepted $commit"
		[ "$dups" != 0 ] && notes="$notes duplicates=$dups"
		if [ -n "$surl" ]; then
			during=$(sink_distinct "$sstats")
			waited=0
			while [ "$(pending_of "$svc_admin")" != 0 ] && [ "$waited" -lt "$((DRAIN_WAIT * 10))" ]; do
				sleep 0.1
				waited=$((waited + 1))
			done
			after=$(sink_distinct "$sstats")
			notes="$notes sink_delivered_during_load=$during drained_all_after=$(awk -v w="$waited" 'BEGIN { printf "%.1f", w / 10 }')s sink_delivered=$after"
		fi
		stop_service
		if [ -n "$surl" ]; then
			kill -TERM "$spid" 2>/dev/null || true
			wait "$spid" 2>/dev/null || true
			forget_pid "$spid"
		fi
		printf '%s\t%s\t%s\t%s\t%s\n' "$round" "$t" "$r" "$batch" "$notes" >>"$rows"
	done
done
load_end=$(cut -d' ' -f1-3 /proc/loadavg)

# --- the table --------------------------------------------------------------
echo
echo "## Ingest: tagihan-relay vs bare Echo (same run)"
echo
echo "Machine: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), $(uname -sr), $(go version | cut -d' ' -f3), $(wrk --version 2>&1 | head -1 | cut -d' ' -f1-2)."
echo "Service: $build_desc."
echo "Load: wrk -t$THREADS -c$CONNECTIONS -d${DURATION}s, $N distinct signed ~1 KiB deliveries per run. Load average before/after: $load_start / $load_end."
echo "Targets: service/distinct = a new transaction per event, service/1000 = 1,000 events per transaction, service/one = one transaction for every event (each with one file sink, subject ordering); service+sink = distinct events forwarded to a local HTTP sink draining concurrently."
echo
summary="$work/summary.md"
awk -F'\t' -v tck="$clk_tck" -v summary="$summary" -v rounds="$ROUNDS" '
function f(s, k,   i, n, a, kv) { n = split(s, a, " "); for (i = 1; i <= n; i++) { split(a[i], kv, "="); if (kv[1] == k) return kv[2] } return "" }
function ms(us) { return sprintf("%.2f", us / 1000) }
function commas(s,   r) { r = ""; while (length(s) > 3) { r = "," substr(s, length(s) - 2) r; s = substr(s, 1, length(s) - 3) } return s r }
{
	round = $1; t = $2; r = $3
	rps = f(r, "requests") / (f(r, "duration_us") / 1e6)
	if (t == "baseline") base[round] = rps
	ratio = (t == "baseline") ? "1.00" : (base[round] > 0 ? sprintf("%.2f", rps / base[round]) : "-")
	wrap = (f(r, "requests") > f(r, "distinct") && t != "baseline") ? " WRAPPED: ids resent" : ""
	cpu = f(r, "cpu_ticks") * 1e6 / tck / f(r, "requests")
	if (t == "baseline") bcpu[round] = cpu
	cpur = (t == "baseline") ? "" : (bcpu[round] > 0 ? sprintf(" (%.1fx)", cpu / bcpu[round]) : "")
	printf "| %s | %s | %.0f | %s | %s | %s | %s | %s | %s | %.0f%s | %s | %s%s |\n", round, t, rps, ratio, ms(f(r, "p50_us")), ms(f(r, "p99_us")), ms(f(r, "max_us")), f(r, "non2xx"), f(r, "errors"), cpu, cpur, $4, $5, wrap
	if (!(t in all)) { order[++nt] = t; all[t] = 1 }
	arps[t] += rps; an[t]++; ap99[t] += f(r, "p99_us"); if (f(r, "p99_us") > aworst[t]) aworst[t] = f(r, "p99_us")
	anon2xx[t] += f(r, "non2xx"); aerr[t] += f(r, "errors"); if (wrap != "") awrap[t] = 1
	if (t != "baseline") aratio[t] += (base[round] > 0 ? rps / base[round] : 0)
	if (t != "baseline") { n[t]++; sr[t] += rps / base[round]; if (f(r, "p99_us") > p99[t]) p99[t] = f(r, "p99_us"); bad[t] += f(r, "non2xx") + f(r, "errors") ; rsum[t] += rps; p99sum[t] += f(r, "p99_us"); csum[t] += cpu / bcpu[round] }
	else { nb++; brs += rps }
}
BEGIN {
	print "| round | target | req/s | ratio | p50 ms | p99 ms | max ms | non-2xx | socket errors | server CPU µs/req (vs baseline) | commit batch mean | notes |"
	print "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
}
END {
	print ""
	printf "- Baseline mean: %.0f req/s.\n", brs / nb
	if (n["service/one"] > 0 && n["service/distinct"] > 0) {
		o = rsum["service/one"] / rsum["service/distinct"]
		printf "- Ordering cost: one transaction for every event runs at %.2fx the distinct rate (target >= 0.8: %s).\n", o, (o >= 0.8 ? "met" : "MISSED")
	}
	for (i = 1; i <= nt; i++) {
		t = order[i]
		if (!(t in n)) continue
		ratio = sr[t] / n[t]
		printf "- %s: mean %.0f req/s, mean ratio %.2f (target >= 0.5: %s), p99 mean %s ms / worst %s ms (target <= 10 ms: %s), non-2xx + errors %d (target 0: %s), server CPU per request %.1fx the baseline'"'"'s.\n", t, rsum[t] / n[t], ratio, (ratio >= 0.5 ? "met" : "MISSED"), ms(p99sum[t] / n[t]), ms(p99[t]), (p99[t] <= 10000 ? "met" : "MISSED"), bad[t], (bad[t] == 0 ? "met" : "MISSED"), csum[t] / n[t]
	}
	# The summary, printed last: one row per target, in run order.
	print "| target | req/s | ratio to baseline | p99 ms | non-2xx | socket errors |" >summary
	print "| --- | --- | --- | --- | --- | --- |" >summary
	for (i = 1; i <= nt; i++) {
		t = order[i]
		if (t == "baseline") label = "bare Echo baseline"
		else if (t == "service/distinct") label = "service, distinct (every event a new transaction)"
		else if (t == "service/one") label = "service, one (one transaction receiving every event)"
		else if (t == "service+sink") label = "service + HTTP sink (distinct events, sink draining during the load)"
		else if (t ~ /^service\//) { k = substr(t, 9); label = sprintf("service, %s (%s events per transaction)", k, commas(k)) }
		else label = t
		if (awrap[t]) label = label " WRAPPED: ids resent"
		p = ms(ap99[t] / an[t]); if (rounds > 1) p = p " (worst " ms(aworst[t]) ")"
		printf "| %s | %.0f | %s | %s | %d | %d |\n", label, arps[t] / an[t], (t == "baseline" ? "1.00" : sprintf("%.2f", aratio[t] / an[t])), p, anon2xx[t], aerr[t] >summary
	}
}' "$rows"

# --- profile ----------------------------------------------------------------
if [ "$PROFILE" = 1 ]; then
	log "profile run (unmeasured): CPU profile of the service under the same load"
	generate
	start_service ""
	# wrk loads its data (about 1 s) before the load starts: profile the
	# middle of the run.
	secs=$((DURATION > 6 ? DURATION - 4 : 2))
	(sleep 3; curl -fsS -o "$out/ingest-cpu.pprof" "$svc_admin/debug/pprof/profile?seconds=$secs") &
	ppid=$!
	run_wrk "$svc_public" >/dev/null
	wait "$ppid" || log "profile fetch failed"
	stop_service
	if [ -s "$out/ingest-cpu.pprof" ]; then
		go tool pprof -top -nodecount=30 "$relay_bin" "$out/ingest-cpu.pprof" >"$out/ingest-cpu-top.txt" 2>/dev/null || true
		echo
		echo "### Where the service's CPU goes under this load (${secs} s profile; bench/out/ingest-cpu.pprof)"
		echo
		"$out/profsum" "$out/ingest-cpu.pprof"
		echo
		echo "Top functions: bench/out/ingest-cpu-top.txt (go tool pprof -top)."
	fi
fi

# --- summary ----------------------------------------------------------------
echo
if [ "$ROUNDS" -gt 1 ]; then
	echo "### Summary (means over $ROUNDS rounds; ratio: each round's req/s over the same round's baseline; p99: mean of the rounds, worst in brackets; non-2xx and socket errors: totals)"
else
	echo "### Summary (ratio: req/s over the same run's baseline)"
fi
echo
echo "wrk -t$THREADS -c$CONNECTIONS -d${DURATION}s, service $build_desc."
echo
cat "$summary"
