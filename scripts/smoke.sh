#!/usr/bin/env bash
# Smoke test of built executables: --version on both, then an echo round trip.
#   scripts/smoke.sh SERVER CLIENT
# SERVER and CLIENT are commands, e.g. dist/parley-server-x86_64-unknown-linux-gnu, or
# "deno run --allow-net server.ts" to try the script itself. Talks to 127.0.0.1 only; bounded.
set -euo pipefail
server=($1)
client=($2)
log=$(mktemp)
trap 'kill "$pid" 2>/dev/null || true; rm -f "$log"' EXIT

"${server[@]}" --version | grep -Eq '^parley-server [0-9]+\.[0-9]+\.[0-9]+$'
"${client[@]}" --version | grep -Eq '^parley-client [0-9]+\.[0-9]+\.[0-9]+$'

"${server[@]}" --mode echo --port 0 </dev/null 2>"$log" &
pid=$!
for _ in $(seq 1 100); do
  port=$(sed -nE 's/.*listening on 127\.0\.0\.1:([0-9]+).*/\1/p' "$log")
  [ -n "$port" ] && break
  sleep 0.1
done
[ -n "${port:-}" ] || { echo "smoke: the server did not start"; cat "$log"; exit 1; }

reply=$(timeout 20 "${client[@]}" --port "$port" --message "smoke test" 2>/dev/null)
[[ "$reply" == *"] smoke test" ]] || { echo "smoke: expected the echo, got: $reply"; exit 1; }

kill -TERM "$pid"
wait "$pid"
echo "smoke: ok (version, echo round trip, graceful exit)"
