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

# What users pay: a clean build of a minimal downstream crate with default features, beside one
# using the community `cloudflare` 0.14 client. Each gets its own empty target directory.
downstream() {
  local name=$1 dep=$2 dir="$work/downstream-$1"
  mkdir -p "$dir/src"
  printf '[package]\nname = "%s"\nversion = "0.0.0"\nedition = "2021"\n\n[dependencies]\n%s\n' "$name" "$dep" > "$dir/Cargo.toml"
  echo 'fn main() {}' > "$dir/src/main.rs"
  (cd "$dir" && CARGO_TARGET_DIR="$dir/target" cargo fetch -q && printf 'downstream %-22s clean build %6.1f s\n' "$name" "$(CARGO_TARGET_DIR="$dir/target" secs cargo build)")
}
downstream uses-apps-api "apps-api = { path = \"$work\" }"
downstream uses-cloudflare-0-14 'cloudflare = "0.14"'
