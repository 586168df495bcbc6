#!/usr/bin/env bash
# cluster-demo.sh: kam on a three-node JetStream cluster, with a node lost
# under load and brought back.
#
# It starts three real nats-server processes on loopback (built from the
# nats-server module at the version go.mod names), creates the stream with 3
# replicas, runs two kam instances against the cluster (A ingests and
# projects, B projects into its own SQLite file), kills the node leading the
# stream under load (kill -9), brings it back, then kills another node, and
# checks:
#   1. ingest goes on while the node is down; 503s only while the leader moves
#   2. no acknowledged event is lost (none stored twice either)
#   3. both read models catch up and have identical digests
# It exits 0 only when every check holds. Everything runs in a temporary
# directory (kept with KEEP=1), on free ports.
#
#   scripts/cluster-demo.sh            # about a minute
#   EVENTS_PER_ROUND=500 scripts/cluster-demo.sh
#
# KAM_BIN, NATS_SERVER_BIN and DIGEST_BIN may name binaries built already.
set -euo pipefail
cd "$(dirname "$0")/.."

EVENTS_PER_ROUND=${EVENTS_PER_ROUND:-200}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/kam-cluster-demo.XXXXXX")
PIDS=()
LOADER_PID=""
failures=0

T0=$(date +%s)
say() { printf '\n== [%3ds] %s\n' $(($(date +%s) - T0)) "$*"; }
ok() { printf '   ok: %s\n' "$*"; }
fail() { printf '   FAIL: %s\n' "$*"; failures=$((failures + 1)); }
die() { printf '   FAIL: %s\n' "$*"; exit 1; }

cleanup() {
  local code=$?
  [ -n "$LOADER_PID" ] && kill "$LOADER_PID" 2>/dev/null || true
  for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ "${KEEP:-}" = 1 ] || [ "$code" != 0 ]; then
    echo "logs and data kept in $WORK"
  else
    rm -rf "$WORK"
  fi
  exit "$code"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- binaries
say "building kam and nats-server"
BIN=$WORK/bin
mkdir -p "$BIN"
KAM=${KAM_BIN:-$BIN/kam}
NATS_SERVER=${NATS_SERVER_BIN:-$BIN/nats-server}
DIGEST=${DIGEST_BIN:-$BIN/digest}
[ -n "${KAM_BIN:-}" ] || go build -o "$KAM" ./cmd/kam
[ -n "${NATS_SERVER_BIN:-}" ] || go build -o "$NATS_SERVER" github.com/nats-io/nats-server/v2
[ -n "${DIGEST_BIN:-}" ] || go build -o "$DIGEST" ./scripts/digest
"$NATS_SERVER" --version

# --- free ports: random ones nobody answers on (PORT is the answer), below
# the kernel's ephemeral range, so that no outgoing connection (a route
# dialing its peer) takes one before its server listens.
USED=" "
PORT_LO=10000
PORT_HI=32767
if read -r elo _ </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null && [ "$elo" -gt $((PORT_LO + 1000)) ]; then
  PORT_HI=$((elo - 1))
fi
pick_port() {
  local p
  for _ in $(seq 1 200); do
    p=$((PORT_LO + (RANDOM * 32768 + RANDOM) % (PORT_HI - PORT_LO + 1)))
    case "$USED" in *" $p "*) continue ;; esac
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      USED="$USED$p "
      PORT=$p
      return
    fi
  done
  die "no free port found"
}

wait_port() { # port seconds
  for _ in $(seq 1 $(($2 * 10))); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}

# --- three nats-server nodes
say "starting three nats-server nodes (JetStream cluster kam-demo)"
declare -A CLIENT ROUTE MONITOR PID
for n in n1 n2 n3; do
  pick_port; CLIENT[$n]=$PORT
  pick_port; ROUTE[$n]=$PORT
  pick_port; MONITOR[$n]=$PORT
done
ROUTES="nats-route://127.0.0.1:${ROUTE[n1]}, nats-route://127.0.0.1:${ROUTE[n2]}, nats-route://127.0.0.1:${ROUTE[n3]}"
for n in n1 n2 n3; do
  mkdir -p "$WORK/$n"
  cat >"$WORK/$n/nats.conf" <<EOF
server_name: $n
listen: "127.0.0.1:${CLIENT[$n]}"
http: "127.0.0.1:${MONITOR[$n]}"
jetstream { store_dir: "$WORK/$n/js" }
cluster {
  name: kam-demo
  listen: "127.0.0.1:${ROUTE[$n]}"
  routes: [$ROUTES]
}
EOF
done
start_node() {
  "$NATS_SERVER" -c "$WORK/$1/nats.conf" >>"$WORK/$1/log" 2>&1 &
  PID[$1]=$!
  PIDS+=("$!")
}
for n in n1 n2 n3; do start_node $n; done
for n in n1 n2 n3; do
  wait_port "${CLIENT[$n]}" 30 || die "$n does not listen (see $WORK/$n/log)"
  echo "   $n: client 127.0.0.1:${CLIENT[$n]}, routes 127.0.0.1:${ROUTE[$n]}"
done
# JetStream takes requests once the nodes have elected a meta leader:
# each node's monitoring /healthz says so.
for n in n1 n2 n3; do
  for _ in $(seq 1 600); do
    curl -fsS --max-time 2 "http://127.0.0.1:${MONITOR[$n]}/healthz" >/dev/null 2>&1 && break
    sleep 0.1
  done
  curl -fsS --max-time 2 "http://127.0.0.1:${MONITOR[$n]}/healthz" >/dev/null || die "$n is not healthy (see $WORK/$n/log)"
done
ok "JetStream cluster healthy"
NATS_URL="nats://127.0.0.1:${CLIENT[n1]},nats://127.0.0.1:${CLIENT[n2]},nats://127.0.0.1:${CLIENT[n3]}"

# --- two kam instances
# --no-ticks: the demo counts the events it sent; in production leave the
# daily tick on (every instance appends the same tick id, stored once).
start_kam() { # name
  "$KAM" serve --data-dir "$WORK/kam-$1" --http 127.0.0.1:0 --nats-url "$NATS_URL" --replicas 3 \
    --log-format json --no-ticks >>"$WORK/kam-$1.log" 2>&1 &
  PIDS+=("$!")
  eval "KAM_PID_$1=$!"
}
kam_addr() { # name -> host:port from the log
  local a="" pid_var="KAM_PID_$1"
  for _ in $(seq 1 600); do
    kill -0 "${!pid_var}" 2>/dev/null || die "kam $1 exited: $(tail -1 "$WORK/kam-$1.log")"
    a=$(grep '"http api listening"' "$WORK/kam-$1.log" 2>/dev/null | tail -1 | sed -n 's/.*"addr":"\([^"]*\)".*/\1/p')
    [ -n "$a" ] && { echo "$a"; return; }
    sleep 0.1
  done
  die "kam $1 does not listen (see $WORK/kam-$1.log)"
}
say "starting kam A (ingest + read model) and kam B (read model)"
start_kam a
A=$(kam_addr a)
start_kam b
B=$(kam_addr b)
echo "   kam A: http://$A   kam B: http://$B   (nats: $NATS_URL)"

# JSON fields by grep, to need nothing but bash, curl and sed.
field() { sed -n "s/.*\"$1\": *\"\{0,1\}\([^\",} ]*\).*/\1/p" | head -1; }
stream_field() { curl -fsS --max-time 10 "http://$1/v1/status" | sed -n 's/.*"stream":{\([^}]*\)}.*/\1/p' | field "$2"; }
applied() { curl -fsS --max-time 10 "http://$1/v1/status" | sed -n 's/.*"projector":{\([^}]*\)}.*/\1/p' | field applied_seq; }
count503() { local v; v=$(curl -fsS --max-time 10 "http://$A/metrics" | sed -n 's/^kam_http_request_duration_seconds_count{code="503",route="POST \/v1\/events"} \([0-9]*\).*/\1/p' | head -1); echo "${v:-0}"; }

[ "$(stream_field "$A" replicas)" = 3 ] && ok "stream KAM has 3 replicas, leader $(stream_field "$A" leader)" || die "stream replicas: $(stream_field "$A" replicas), want 3"

# --- load: rounds of NDJSON events through kam publish, which retries 503
# (and 429) after Retry-After with the same ids until each event is
# acknowledged; every round's summary is kept.
gen_round() { # round -> NDJSON on stdout
  awk -v r="$1" -v n="$EVENTS_PER_ROUND" 'BEGIN {
    for (i = 0; i < n; i++) {
      k = r * n + i
      acct = sprintf("ACCT-%03d", (k * 7919) % 120)
      day = 1 + int(k / 40) % 28; mon = 1 + int(k / 1120) % 12; hr = k % 24
      t = sprintf("2025-%02d-%02dT%02d:%02d:00Z", mon, day, hr, k % 60)
      if (k % 6 == 5)
        printf "{\"id\":\"demo-%07d\",\"source\":\"demo\",\"type\":\"visit.logged\",\"subject\":\"%s\",\"time\":\"%s\",\"data\":{\"visit_id\":\"v%d\",\"rep\":\"rep\",\"contact\":{\"name\":\"Ann\",\"role\":\"decision_maker\"}}}\n", k, acct, t, k
      else
        printf "{\"id\":\"demo-%07d\",\"source\":\"demo\",\"type\":\"order.placed\",\"subject\":\"%s\",\"time\":\"%s\",\"data\":{\"order_id\":\"o%d\",\"amount\":\"%d.%02d\"}}\n", k, acct, t, k, 10 + (k * 37) % 5000, k % 100
    }
  }'
}
loader() {
  local r=0
  while [ ! -e "$WORK/stop-load" ]; do
    gen_round $r >"$WORK/round-$r.ndjson"
    if "$KAM" publish --url "http://$A" --batch 20 "$WORK/round-$r.ndjson" >"$WORK/round-$r.out" 2>&1; then
      echo ok >"$WORK/round-$r.done"
    else
      echo "exit $?" >"$WORK/round-$r.done"
    fi
    r=$((r + 1))
  done
}
say "load: kam publish in rounds of $EVENTS_PER_ROUND events against kam A"
loader &
LOADER_PID=$!

# Progress as the client sees it: rounds whose every event was acknowledged.
rounds_done() { find "$WORK" -maxdepth 1 -name 'round-*.done' | wc -l; }
wait_rounds() { # n seconds
  for _ in $(seq 1 $(($2 * 10))); do
    [ "$(rounds_done)" -ge "$1" ] && return 0
    sleep 0.1
  done
  return 1
}
wait_rounds 5 120 || die "the load did not get 5 rounds acknowledged"
before=$(count503)
[ "$before" = 0 ] && ok "$(rounds_done) rounds acknowledged, no 503 so far" || fail "$before answers 503 before any node was lost"

# --- kill the stream leader under load
LEADER=$(stream_field "$A" leader)
say "kill -9 the stream leader $LEADER at sequence $(stream_field "$A" last_seq)"
kill -9 "${PID[$LEADER]}"
wait "${PID[$LEADER]}" 2>/dev/null || true
T_KILL=$(date +%s%N)
R_KILL=$(rounds_done)
if wait_rounds $((R_KILL + 5)) 120; then
  T_ON=$(date +%s%N)
  NEW_LEADER=$(stream_field "$A" leader)
  during=$(count503)
  ok "ingest went on: 5 more rounds ($((5 * EVENTS_PER_ROUND)) events) acknowledged $(((T_ON - T_KILL) / 1000000)) ms after the kill; new leader $NEW_LEADER; $during answers 503 (with Retry-After) while it moved"
else
  die "ingest did not go on with two nodes"
fi

say "bring $LEADER back"
start_node "$LEADER"
wait_port "${CLIENT[$LEADER]}" 30 || die "$LEADER does not restart"
T_BACK=$(date +%s%N)
wait_rounds $(($(rounds_done) + 5)) 120 || die "ingest stalled after $LEADER came back"
ok "$LEADER is back; ingest goes on ($(stream_field "$A" last_seq) events in the stream)"

say "stop the load"
touch "$WORK/stop-load"
wait "$LOADER_PID" || true
LOADER_PID=""
after=$(count503)
LEADER_NOW=$(stream_field "$A" leader)
# The node that came back is current: its own copy of the stream (its
# monitoring endpoint /jsz) ends at the stream's last sequence.
last=$(stream_field "$A" last_seq)
node_last=""
for _ in $(seq 1 600); do
  node_last=$(curl -fsS --max-time 5 "http://127.0.0.1:${MONITOR[$LEADER]}/jsz?streams=true" 2>/dev/null | field last_seq || true)
  [ "$node_last" = "$last" ] && break
  sleep 0.2
done
[ "$node_last" = "$last" ] && ok "$LEADER is current: its copy of KAM ends at $last, as the leader's" ||
  fail "$LEADER's copy of KAM ends at ${node_last:-?}, the stream at $last"
if [ "$after" != "$during" ] && [ "$LEADER_NOW" = "$NEW_LEADER" ]; then
  fail "$((after - during)) more 503s after the leader had moved, and it did not move again"
else
  ok "503s only while a leader moved ($after in all)"
fi

lines=0; acked=0; refused=0; rounds=0
for f in "$WORK"/round-*.out; do
  r=${f%.out}; r=${r##*/round-}
  [ -e "$WORK/round-$r.done" ] || continue
  rounds=$((rounds + 1))
  s=$(grep -o 'lines [0-9]*, appended [0-9]*, duplicates [0-9]*, refused [0-9]*' "$f" || true)
  if [ "$(cat "$WORK/round-$r.done")" != ok ] || [ -z "$s" ]; then
    fail "round $r: $(tail -3 "$f")"
    continue
  fi
  read -r _ l _ a _ d _ x <<<"${s//,/}"
  lines=$((lines + l)); acked=$((acked + a + d)); refused=$((refused + x))
done
[ "$acked" = "$lines" ] && [ "$refused" = 0 ] &&
  ok "$rounds rounds: $lines events sent, $acked acknowledged (appended or duplicate), 0 refused" ||
  fail "$lines events sent, $acked acknowledged, $refused refused"

# --- lose another node: the one that came back must now carry the stream
OTHER=""
for n in n1 n2 n3; do [ "$n" != "$LEADER" ] && [ "$n" != "$LEADER_NOW" ] && OTHER=$n; done
say "kill -9 $OTHER too: $LEADER (back) and $LEADER_NOW must hold every event"
kill -9 "${PID[$OTHER]}"
wait "${PID[$OTHER]}" 2>/dev/null || true

for _ in $(seq 1 300); do
  msgs=$(stream_field "$B" messages 2>/dev/null || true)
  [ -n "$msgs" ] && break
  sleep 0.2
done
[ "${msgs:-}" = "$lines" ] && ok "no acknowledged event lost: the stream holds $msgs events, one per id sent" ||
  fail "the stream holds ${msgs:-?} events, $lines were sent and acknowledged"

say "both read models catch up"
last=$(stream_field "$B" last_seq)
for k in A B; do
  addr=${!k}
  for _ in $(seq 1 300); do
    [ "$(applied "$addr" 2>/dev/null || true)" = "$last" ] && break
    sleep 0.2
  done
  if [ "$(applied "$addr")" = "$last" ]; then
    ok "kam $k applied $last"
  else
    fail "kam $k applied $(applied "$addr"), the stream is at $last; its goroutines are dumped to its log"
    pid_var="KAM_PID_$(echo "$k" | tr AB ab)"
    kill -QUIT "${!pid_var}" 2>/dev/null || true
  fi
done

say "stop both kams (SIGTERM) and compare their read models"
for k in a b; do
  pid_var="KAM_PID_$k"
  kill -TERM "${!pid_var}"
  wait "${!pid_var}" && ok "kam $k stopped cleanly" || fail "kam $k exited with $?"
done
if "$DIGEST" "$WORK/kam-a/kam.db" "$WORK/kam-b/kam.db"; then
  ok "identical digests"
else
  fail "the read models differ"
fi

if [ "$failures" = 0 ]; then
  printf '\nall checks hold\n'
  exit 0
fi
printf '\n%d checks failed\n' "$failures"
exit 1
