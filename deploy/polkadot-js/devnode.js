// Starts a real `tessera-node --dev --tmp` on free 127.0.0.1 ports for the tests, and
// stops it (SIGINT, then SIGKILL) however the tests end.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, openSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';

/** The node binary: $TESSERA_NODE_BIN, else the shared Cargo target dir's debug build. */
export function nodeBinary() {
  if (process.env.TESSERA_NODE_BIN) return process.env.TESSERA_NODE_BIN;
  const target = process.env.CARGO_TARGET_DIR || join(homedir(), '.cache', 'tessera', 'target');
  const bin = join(target, 'debug', 'tessera-node');
  if (!existsSync(bin)) throw new Error(`no tessera-node at ${bin}: build it (./scripts/test.sh) or set TESSERA_NODE_BIN`);
  return bin;
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
  });
}

async function rpcUp(port) {
  try {
    const r = await fetch(`http://127.0.0.1:${port}`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ id: 1, jsonrpc: '2.0', method: 'system_health', params: [] }),
    });
    return r.ok;
  } catch {
    return false;
  }
}

/** Starts a dev node; resolves to `{ url, log, stop() }` once its RPC answers. */
export async function startDevNode({ blockTimeMs = 500, timeoutMs = 60_000 } = {}) {
  const [rpc, p2p] = [await freePort(), await freePort()];
  const dir = mkdtempSync(join(tmpdir(), 'tessera-pjs-'));
  const log = join(dir, 'node.log');
  const out = openSync(log, 'w');
  const child = spawn(nodeBinary(), [
    '--dev', '--base-path', join(dir, 'chain'), '--rpc-port', String(rpc),
    '--listen-addr', `/ip4/127.0.0.1/tcp/${p2p}`, '--no-prometheus', '--no-telemetry', '--no-mdns',
    '--dev-block-time', String(blockTimeMs),
  ], { stdio: ['ignore', out, out] });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const stop = async () => {
    if (child.exitCode !== null) return;
    child.kill('SIGINT');
    const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(t);
  };
  process.once('exit', () => child.kill('SIGKILL'));
  const deadline = Date.now() + timeoutMs;
  while (!(await rpcUp(rpc))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`tessera-node did not start:\n${readFileSync(log, 'utf8').slice(-3000)}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  return { url: `ws://127.0.0.1:${rpc}`, log, stop };
}
