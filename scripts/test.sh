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
echo "==> polkadot.js staker suite (deploy/polkadot-js)"
(
	cd "$TESSERA_ROOT/deploy/polkadot-js"
	npm ci --no-audit --no-fund --loglevel=error
	export TESSERA_NODE_BIN="$CARGO_TARGET_DIR/debug/tessera-node"
	time node --test test/
)
