#!/usr/bin/env bash
# Mutation testing of the files where a silent bug costs most (not part of `.ci/run`: about
# 2 h on 2 cores with nothing else running: scrub/mod.rs ~50 min, transport 20, retry 15,
# login 13, ids 8, unescape 6, describe 5, operation 2). Every mutant of these files must be
# caught by a test, or be marked as equivalent where it lives. Results: mutants.out/<file>/
# (outcomes.json, caught.txt, missed.txt).
#
#   bash .ci/mutants.sh            # every file below
#   bash .ci/mutants.sh scrub      # the files whose path contains "scrub"
#
# The tests run are the library's unit tests and the contract tests (with the property tests,
# feature `test-util`). Feature `fake` is on too: cargo-mutants does not read `cfg`, so a
# mutant of code behind it would otherwise be reported missed whatever the tests do.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v cargo-mutants >/dev/null || cargo install cargo-mutants --locked

# file | regex of the mutants to examine ("" for all)
targets=(
  "src/core/scrub/mod.rs|"
  "src/core/scrub/unescape.rs|"
  "src/core/scrub/describe.rs|"
  "src/core/retry.rs|"
  "src/core/budget/mod.rs|"
  "src/core/budget/registry.rs|"
  "src/core/ids.rs|"
  "src/core/transport.rs|run_unboxed|outcome"
  "src/core/operation.rs|deadline_after"
  "src/hover/login.rs|"
)
# The unit tests and the contract tests exercise these files; the property tests run few cases
# per mutant (PROPTEST_CASES), since a mutant that survives 64 cases is seen by the named tests.
export PROPTEST_CASES="${PROPTEST_CASES:-64}"
for target in "${targets[@]}"; do
  file="${target%%|*}"
  re="${target#*|}"
  if [ $# -gt 0 ] && [[ "$file" != *"$1"* ]]; then continue; fi
  name="$(echo "${file#src/}" | sed 's|/|-|g; s|\.rs$||')"
  mkdir -p "mutants.out/$name"
  args=(--in-place -f "$file" --output "mutants.out/$name" --minimum-test-timeout 60)
  [ -n "$re" ] && args+=(-F "$re")
  started=$(date +%s)
  cargo mutants "${args[@]}" --features test-util,fake -- --lib --test contract || true
  echo "$file: $(( $(date +%s) - started )) s"
  for outcome in caught missed unviable timeout; do
    printf '  %-9s %s\n' "$outcome" "$(wc -l < "mutants.out/$name/mutants.out/$outcome.txt" 2>/dev/null || echo 0)"
  done
done
