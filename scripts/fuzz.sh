#!/usr/bin/env bash
# Long fuzz runs of the seeded fuzz targets CI runs briefly:
#   scripts/fuzz.sh [CASES] [SEED]
# CASES inputs per target (default 20000), from SEED (default: a random one, printed so a
# failure can be rerun). Targets: the pallet's call sequences (pallet/src/tests/fuzz.rs),
# the wire protocol (proto/tests/fuzz_wire.rs) and the miner over real gRPC
# (miner/tests/fuzz_grpc.rs). Each prints how many inputs it ran.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$TESSERA_ROOT"
export TESSERA_FUZZ_CASES="${1:-20000}"
export TESSERA_FUZZ_SEED="${2:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}"
echo "==> fuzz: $TESSERA_FUZZ_CASES cases per target, seed $TESSERA_FUZZ_SEED"
SKIP_WASM_BUILD=1 cargo test --locked -p pallet-tessera --lib tests::fuzz -- --nocapture
cargo test --locked -p tessera-proto --test fuzz_wire -- --nocapture --test-threads 2
cargo test --locked --workspace --test fuzz_grpc -- --nocapture
