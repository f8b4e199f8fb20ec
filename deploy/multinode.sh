#!/usr/bin/env bash
# Three Tessera nodes from the `local` chain spec on 127.0.0.1: Alice and Bob author blocks
# (Aura) and vote on finality (GRANDPA), Charlie follows as a full node. Every node has a
# fixed node key; Bob and Charlie boot from Alice.
#
#   deploy/multinode.sh           start them, print their RPC ports, Ctrl-C stops all
#   deploy/multinode.sh --check   start them, check they finalize the same blocks, stop
#                                 Charlie, check the others go on, restart Charlie, check it
#                                 catches up, then stop everything (exit 0 = all held)
#
# Why a full node for the restart: GRANDPA finalizes with more than 2/3 of the voters,
# so with two voters both must be online; stopping a voter stalls finality (blocks are
# still authored) until it returns. A follower can come and go without the chain noticing.
#
# Environment: TESSERA_NODE_BIN (default: the shared target dir's debug build),
# TESSERA_LOG_DIR (default: a new temp dir; each node logs to <name>.log there).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/env.sh"

CHECK=0
[ "${1:-}" = "--check" ] && CHECK=1
BIN="${TESSERA_NODE_BIN:-$CARGO_TARGET_DIR/debug/tessera-node}"
[ -x "$BIN" ] || { echo "no tessera-node at $BIN: run ./scripts/test.sh (or cargo build) first" >&2; exit 1; }
DIR="${TESSERA_LOG_DIR:-$(mktemp -d -t tessera-multinode.XXXXXX)}"
mkdir -p "$DIR"
command -v jq >/dev/null && command -v curl >/dev/null || { echo "multinode.sh needs curl and jq" >&2; exit 1; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

declare -A P2P RPC PID FLAGS
FLAGS[alice]="--alice"
FLAGS[bob]="--bob"
FLAGS[charlie]=""
NODES=(alice bob charlie)
for n in "${NODES[@]}"; do
	P2P[$n]=$(free_port)
	RPC[$n]=$(free_port)
	"$BIN" key generate-node-key --file "$DIR/$n.key" 2>/dev/null
done
ALICE_ID=$("$BIN" key inspect-node-key --file "$DIR/alice.key")
BOOT="/ip4/127.0.0.1/tcp/${P2P[alice]}/p2p/$ALICE_ID"

start() {
	local n=$1
	# shellcheck disable=SC2086
	"$BIN" --chain local --base-path "$DIR/$n" --name "$n" ${FLAGS[$n]} \
		--node-key-file "$DIR/$n.key" --listen-addr "/ip4/127.0.0.1/tcp/${P2P[$n]}" \
		--rpc-port "${RPC[$n]}" --bootnodes "$BOOT" \
		--no-prometheus --no-telemetry --no-mdns >>"$DIR/$n.log" 2>&1 &
	PID[$n]=$!
}

stop() {
	local n=$1
	[ -n "${PID[$n]:-}" ] || return 0
	kill -INT "${PID[$n]}" 2>/dev/null || true
	for _ in $(seq 1 40); do kill -0 "${PID[$n]}" 2>/dev/null || break; sleep 0.25; done
	kill -KILL "${PID[$n]}" 2>/dev/null || true
	wait "${PID[$n]}" 2>/dev/null || true
	PID[$n]=""
}

stop_all() {
	for n in "${NODES[@]}"; do stop "$n"; done
}
trap 'stop_all' EXIT
trap 'exit 130' INT TERM

rpc() { # node method params-json
	curl -s --max-time 5 -H 'Content-Type: application/json' \
		-d "{\"id\":1,\"jsonrpc\":\"2.0\",\"method\":\"$2\",\"params\":${3:-[]}}" "http://127.0.0.1:${RPC[$1]}" | jq -r '.result // empty'
}

finalized() { # node -> finalized block number (empty when unreachable)
	local hash number
	hash=$(rpc "$1" chain_getFinalizedHead) || return 0
	[ -n "$hash" ] || return 0
	number=$(rpc "$1" chain_getHeader "[\"$hash\"]" | jq -r '.number // empty' 2>/dev/null) || return 0
	[ -n "$number" ] && echo $((number))
}

hash_at() { rpc "$1" chain_getBlockHash "[$2]"; }

wait_until() { # seconds description command...
	local secs=$1 what=$2
	shift 2
	local deadline=$((SECONDS + secs))
	until "$@"; do
		if [ $SECONDS -ge $deadline ]; then
			echo "FAILED: $what (after ${secs}s); logs in $DIR" >&2
			for n in "${NODES[@]}"; do echo "--- $n" >&2; tail -5 "$DIR/$n.log" >&2; done
			exit 1
		fi
		sleep 1
	done
	echo "ok: $what"
}

at_least() { # node number
	local f
	f=$(finalized "$1")
	[ -n "$f" ] && [ "$f" -ge "$2" ]
}

same_block() { # height node...
	local h=$1
	shift
	local first
	first=$(hash_at "$1" "$h")
	[ -n "$first" ] || return 1
	for n in "$@"; do [ "$(hash_at "$n" "$h")" = "$first" ] || return 1; done
}

for n in "${NODES[@]}"; do start "$n"; done
echo "==> nodes started (logs in $DIR)"
for n in "${NODES[@]}"; do echo "    $n: ws://127.0.0.1:${RPC[$n]} (p2p ${P2P[$n]})"; done

if [ $CHECK = 0 ]; then
	echo "==> Ctrl-C stops all three"
	wait
	exit 0
fi

all_at() { at_least alice "$1" && at_least bob "$1" && at_least charlie "$1"; }
wait_until 120 "all three nodes finalized block 3" all_at 3
wait_until 30 "they agree on finalized block 3" same_block 3 alice bob charlie

stop charlie
F=$(finalized alice)
echo "==> charlie stopped at alice's finalized block $F"
both_past() { at_least alice $((F + 5)) && at_least bob $((F + 5)); }
wait_until 90 "alice and bob finalize 5 more blocks without charlie" both_past
wait_until 30 "alice and bob agree on block $((F + 5))" same_block $((F + 5)) alice bob

G=$(finalized alice)
start charlie
echo "==> charlie restarted; alice is at finalized block $G"
wait_until 120 "charlie caught up to finalized block $G" at_least charlie "$G"
wait_until 30 "charlie agrees on block $G" same_block "$G" alice bob charlie
echo "==> multinode check passed"
