#!/usr/bin/env bash
# The README's first command: installs what is missing, builds (the same build as
# scripts/test.sh), fetches the default model, then runs the whole subnet locally with
# deploy/localnet.sh: a dev chain, a strong and a weak miner, a staked validator. It prints
# the metagraph once the strong miner earns more; Ctrl-C stops everything.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$TESSERA_ROOT"
"$TESSERA_ROOT/scripts/install.sh"

echo "==> build (target dir: $CARGO_TARGET_DIR)"
time cargo build --workspace --all-targets --locked
exec "$TESSERA_ROOT/deploy/localnet.sh"
