#!/usr/bin/env bash
# Measures build times of this crate on this machine (run by hand, not in CI):
# clean build, no-op rebuild, rebuild after editing one spec description, for `cargo build`
# and `cargo test --no-run`, on a fresh export of HEAD in a temporary directory.
# Usage: bash benches/build-times.sh [cargo features args...]
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
git -C "$repo" archive HEAD | tar -x -C "$work"
cd "$work"
export CARGO_TARGET_DIR="$work/target"

secs() { local s=$(date +%s.%N); "$@" >/dev/null 2>"$work/err" || { cat "$work/err"; exit 1; }; echo "$(date +%s.%N) - $s" | bc; }
edit_spec() { sed -i "0,/summary: List apps/s//summary: List apps ($RANDOM)/" spec/cloudflare-calls.yaml; }
reran() { grep -c 'Running.*build-script-build' "$work/err" || true; }

for cmd in "build" "test --no-run"; do
  rm -rf "$CARGO_TARGET_DIR"
  clean=$(secs cargo $cmd "$@")
  noop=$(CARGO_LOG= secs cargo $cmd -v "$@"); noop_rerun=$(reran)
  edit_spec
  edited=$(secs cargo $cmd -v "$@"); edited_rerun=$(reran)
  printf 'cargo %-12s clean %6.1f s | no-op %5.2f s (build script reran: %s) | after a spec edit %5.2f s (build script reran: %s)\n' \
    "$cmd" "$clean" "$noop" "$noop_rerun" "$edited" "$edited_rerun"
done
out=$(ls -d "$CARGO_TARGET_DIR"/debug/build/apps-api-*/out | head -1)
for f in calls magic hover; do printf 'generated %s.rs: %s lines\n' "$f" "$(wc -l < "$out/$f.rs")"; done
