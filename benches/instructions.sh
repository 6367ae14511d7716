#!/usr/bin/env bash
# Client instructions per request, facade vs raw reqwest, under callgrind: exact and repeatable,
# unlike CPU time on a shared 2-core VM. Per request = (4,800-call run - 1,600-call run) / 3,200,
# which cancels start-up. Needs valgrind. Usage: bash benches/instructions.sh
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(cargo bench --bench client --features test-util --no-run --message-format=json 2>/dev/null |
  grep -o '"executable":"[^"]*client-[^"]*"' | tail -1 | cut -d'"' -f4)
tmp=$(mktemp -d)
"$bin" serve > "$tmp/port" & server=$!
trap 'kill $server; rm -rf "$tmp"' EXIT
while [ ! -s "$tmp/port" ]; do sleep 0.1; done
base="http://127.0.0.1:$(cat "$tmp/port")"

count() { # mode n api in_flight runtime
  valgrind --tool=callgrind --callgrind-out-file=/dev/null "$bin" profile "$1" "$base" "$2" "$3" "$4" "$5" 2>&1 |
    grep -o 'Collected : [0-9]*' | awk '{print $3}'
}
per_request() { echo $(( ($(count "$1" 4800 "$2" "$3" "$4") - $(count "$1" 1600 "$2" "$3" "$4")) / 3200 )); }

echo "| runtime | api | in flight | facade instr/req | raw instr/req | facade/raw |"
echo "|---|---|---:|---:|---:|---:|"
for runtime in current multi; do
  for in_flight in 1 16; do
    for api in calls magic hover; do
      f=$(per_request facade "$api" "$in_flight" "$runtime")
      r=$(per_request raw "$api" "$in_flight" "$runtime")
      printf '| %s | %s | %s | %s | %s | %s× |\n' "$runtime" "$api" "$in_flight" "$f" "$r" \
        "$(echo "scale=3; $f / $r" | bc)"
    done
  done
done
