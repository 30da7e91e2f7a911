#!/usr/bin/env bash
# Every fuzz target for about 30 seconds on the kept corpus and the seeds; any crash fails
# the run.
# Needs the nightly toolchain; installs cargo-fuzz when it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${FUZZ_SECONDS:-30}

if ! rustup toolchain list | grep -q '^nightly'; then
  echo "fuzz: the nightly toolchain is missing (rustup toolchain install nightly)" >&2
  exit 1
fi
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
  cargo install cargo-fuzz --locked
fi

# No sanitizer: the product forbids unsafe code, so the fuzzers hunt panics, and without
# AddressSanitizer they build sooner and run about twice as many inputs.
cargo +nightly fuzz build -s none

# New inputs go to a scratch directory, so the kept corpus changes only when someone
# minimizes a longer run into it (see fuzz/STATS.md).
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
for target in $(cargo +nightly fuzz list); do
  echo "--- fuzz $target for ${seconds}s"
  mkdir -p "$scratch/$target" "fuzz/corpus/$target" "fuzz/seeds/$target"
  cargo +nightly fuzz run -s none "$target" "$scratch/$target" "fuzz/corpus/$target" \
    "fuzz/seeds/$target" -- \
    -max_total_time="$seconds" -timeout=10 -print_final_stats=1
done
