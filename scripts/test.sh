#!/usr/bin/env bash
# Run the whole test suite: installs what is missing, builds every crate once (dev
# profile: the tests and the binaries they start come from the same build), then runs
# the unit, property and end-to-end tests.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$TESSERA_ROOT"
"$TESSERA_ROOT/scripts/install.sh"

echo "==> build (target dir: $CARGO_TARGET_DIR)"
time cargo build --workspace --all-targets --locked
echo "==> test"
time cargo test --workspace --locked -- --test-threads 2
