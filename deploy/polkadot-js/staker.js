#!/usr/bin/env node
// Delegate stake to a validator hotkey on a Tessera chain and show the position.
//
//   node staker.js --url ws://127.0.0.1:9944 --seed //Dave --hotkey <SS58> --add 10
//   node staker.js --url ws://127.0.0.1:9944 --seed //Dave --hotkey <SS58>          (show)
//   node staker.js --url ws://127.0.0.1:9944 --seed //Dave --hotkey <SS58> --remove all
//
// Every flag also reads an environment variable: TESSERA_URL, TESSERA_SEED,
// TESSERA_HOTKEY. Amounts are in whole tokens.
import { Keyring } from '@polkadot/keyring';
import { cryptoWaitReady } from '@polkadot/util-crypto';
import { connect, findEvent, format, position, submit, toPlancks } from './lib.js';

function parse(argv) {
  const out = { url: process.env.TESSERA_URL || 'ws://127.0.0.1:9944', seed: process.env.TESSERA_SEED, hotkey: process.env.TESSERA_HOTKEY };
  for (let i = 0; i < argv.length; i += 2) {
    const [flag, value] = [argv[i], argv[i + 1]];
    if (!flag.startsWith('--') || value === undefined) throw new Error(`bad argument ${flag}: flags are --name value`);
    out[flag.slice(2)] = value;
  }
  for (const required of ['seed', 'hotkey']) if (!out[required]) throw new Error(`--${required} is required`);
  return out;
}

async function main() {
  const args = parse(process.argv.slice(2));
  await cryptoWaitReady();
  const api = await connect(args.url);
  try {
    const staker = new Keyring({ type: 'sr25519', ss58Format: api.registry.chainSS58 }).addFromUri(args.seed);
    if (args.add) {
      const { events } = await submit(api, api.tx.tessera.addStake(args.hotkey, toPlancks(api, args.add)), staker);
      const e = findEvent(events, 'tessera', 'StakeAdded');
      console.log(`staked ${format(api, e.data.amount)} to ${args.hotkey}: ${e.data.shares} shares`);
    }
    if (args.remove) {
      const amount = args.remove === 'all' ? (await position(api, args.hotkey, staker.address)).value : toPlancks(api, args.remove);
      const { events } = await submit(api, api.tx.tessera.removeStake(args.hotkey, amount), staker);
      const e = findEvent(events, 'tessera', 'StakeRemoved');
      console.log(`withdrew ${format(api, e.data.amount)} from ${args.hotkey}`);
    }
    const p = await position(api, args.hotkey, staker.address);
    const { data } = await api.query.system.account(staker.address);
    console.log(`position in ${args.hotkey}: ${format(api, p.value)} (principal ${format(api, p.principal)}, ${p.shares} of ${p.pool.shares} shares)`);
    console.log(`free balance of ${staker.address}: ${format(api, data.free)}`);
  } finally {
    await api.disconnect();
  }
}

main().catch((e) => { console.error(`error: ${e.message}`); process.exit(1); });
