// The staker flow with polkadot.js against a real dev node: the chain's token, delegating
// to a validator hotkey with `tessera.addStake`, the position in `TesseraApi.metagraph`
// and `TesseraApi.coldkeyInfo`,
// dividends minus the delegate take after an epoch, and `removeStake` paying principal
// plus rewards back to the free balance.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Keyring } from '@polkadot/keyring';
import { cryptoWaitReady, mnemonicGenerate } from '@polkadot/util-crypto';
import { connect, feePaid, findEvent, metagraph, position, submit, toPlancks, token } from '../lib.js';
import { startDevNode } from '../devnode.js';

const NETUID = 1;
let node;
let api;
let keyring;

before(async () => {
  await cryptoWaitReady();
  node = await startDevNode();
  api = await connect(node.url);
  keyring = new Keyring({ type: 'sr25519', ss58Format: api.registry.chainSS58 });
});

after(async () => {
  await api?.disconnect();
  await node?.stop();
});

test('the chain shows its token: TSR with 9 decimals, SS58 prefix 42', () => {
  assert.deepEqual(token(api), { symbol: 'TSR', decimals: 9, ss58: 42 });
  assert.equal(toPlancks(api, '1.5'), 1_500_000_000n);
});

/** The pool value of `hotkey` at block `hash` and at its parent. */
async function poolAround(hotkey, hash) {
  const header = await api.rpc.chain.getHeader(hash);
  const [now, before] = await Promise.all([position(api, hotkey, hotkey, hash), position(api, hotkey, hotkey, header.parentHash)]);
  return { number: header.number.toNumber(), parent: header.parentHash, before: before.pool, now: now.pool };
}

/** Waits (bounded) for a finalized block in which `hotkey`'s pool value grew: an epoch. */
async function nextEpochPayout(hotkey, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  let last = (await api.rpc.chain.getFinalizedHead()).toHex();
  while (Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 300));
    const head = (await api.rpc.chain.getFinalizedHead()).toHex();
    if (head === last) continue;
    // Walk back from the new head to the last one seen.
    const hashes = [];
    for (let h = head; h !== last && hashes.length < 64; h = (await api.rpc.chain.getHeader(h)).parentHash.toHex()) hashes.unshift(h);
    last = head;
    for (const h of hashes) {
      const p = await poolAround(hotkey, h);
      if (p.now.value > p.before.value) return { hash: h, ...p };
    }
  }
  throw new Error(`no dividends to ${hotkey} within ${timeoutMs} ms`);
}

test('a staker delegates, earns dividends minus the take, and withdraws principal plus rewards', async () => {
  const alice = keyring.addFromUri('//Alice');
  const owner = keyring.addFromUri(mnemonicGenerate());
  const hotkey = keyring.addFromUri(mnemonicGenerate());
  const staker = keyring.addFromUri(mnemonicGenerate());
  for (const who of [owner, staker]) {
    await submit(api, api.tx.balances.transferKeepAlive(who.address, toPlancks(api, 1000)), alice);
  }

  // The validator: registered by its owner, with its own stake.
  const reg = await submit(api, api.tx.tessera.burnedRegister(NETUID, hotkey.address), owner);
  assert.ok(findEvent(reg.events, 'tessera', 'NeuronRegistered'), 'registered');
  await submit(api, api.tx.tessera.addStake(hotkey.address, toPlancks(api, 100)), owner);

  // The staker delegates 50 TSR.
  const amount = toPlancks(api, 50);
  const freeBefore = (await api.query.system.account(staker.address)).data.free.toBigInt();
  const added = await submit(api, api.tx.tessera.addStake(hotkey.address, amount), staker);
  const ev = findEvent(added.events, 'tessera', 'StakeAdded');
  assert.ok(ev, 'StakeAdded event');
  assert.equal(ev.data.coldkey.toString(), staker.address);
  assert.equal(ev.data.hotkey.toString(), hotkey.address);
  assert.equal(ev.data.amount.toBigInt(), amount);
  const addFee = feePaid(added.events);
  const acct = (await api.query.system.account(staker.address)).data;
  assert.equal(acct.free.toBigInt(), freeBefore - amount - addFee, 'the stake is held out of the free balance');
  assert.ok(acct.reserved.toBigInt() >= amount, 'and shows as held');
  const mine = await position(api, hotkey.address, staker.address);
  assert.equal(mine.principal, amount);
  assert.ok(mine.value >= amount - 1n && mine.value <= amount);
  // One runtime API call lists the coldkey's balances and every position.
  const info = await api.call.tesseraApi.coldkeyInfo(staker.address);
  assert.equal(info.positions.length, 1);
  assert.equal(info.positions[0].hotkey.toString(), hotkey.address);
  assert.equal(info.positions[0].principal.toBigInt(), amount);
  assert.equal(info.free.toBigInt(), acct.free.toBigInt());
  assert.equal(info.held.toBigInt(), acct.reserved.toBigInt());

  // The runtime API shows the neuron with both stakes, and its delegate take.
  const mg = await metagraph(api, NETUID);
  const neuron = mg.neurons.find((n) => n.hotkey.toString() === hotkey.address);
  assert.ok(neuron, 'the validator is in the metagraph');
  assert.ok(neuron.stake.toBigInt() >= toPlancks(api, 150) - 2n, `stake ${neuron.stake}`);
  const take = BigInt(neuron.take.toNumber());
  assert.ok(take > 0n, 'a delegate take is set (default 18%)');

  // An epoch pays the validator: the pool grows by the dividend R; the take T goes to the
  // owner as new shares; the staker's position grows by its share of R - T.
  const before = await position(api, hotkey.address, staker.address);
  const epoch = await nextEpochPayout(hotkey.address);
  const R = epoch.now.value - epoch.before.value;
  const T = (R * take) / 65535n;
  const expectedOwnerShares = (T * epoch.before.shares) / (epoch.before.value + R - T);
  assert.equal(epoch.now.shares - epoch.before.shares, expectedOwnerShares, 'the take is minted as owner shares');
  const mineBefore = await position(api, hotkey.address, staker.address, epoch.parent);
  const mineAfter = await position(api, hotkey.address, staker.address, epoch.hash);
  const expectedGain = ((R - T) * mineBefore.shares) / epoch.before.shares;
  const gain = mineAfter.value - mineBefore.value;
  assert.ok(gain > 0n, 'the staker earned');
  assert.ok(gain >= expectedGain - 2n && gain <= expectedGain + 2n, `gain ${gain}, expected ${expectedGain} (R ${R}, take ${T})`);
  assert.ok(mineBefore.value >= before.value);

  // Too much cannot be withdrawn: a named pallet error, nothing changes.
  const now = await position(api, hotkey.address, staker.address);
  await assert.rejects(
    submit(api, api.tx.tessera.removeStake(hotkey.address, now.value + toPlancks(api, 1000)), staker),
    /tessera\.NotEnoughStakeToWithdraw/,
  );

  // Withdraw everything: principal released from the hold, rewards paid, minus the fee.
  const freeMid = (await api.query.system.account(staker.address)).data.free.toBigInt();
  const value = (await position(api, hotkey.address, staker.address)).value;
  const removed = await submit(api, api.tx.tessera.removeStake(hotkey.address, value), staker);
  const rem = findEvent(removed.events, 'tessera', 'StakeRemoved');
  assert.ok(rem, 'StakeRemoved event');
  // Epochs between reading the value and the withdrawal only add (what was asked is paid).
  assert.equal(rem.data.amount.toBigInt(), value);
  assert.ok(value > amount, `rewards on top of the principal: ${value} > ${amount}`);
  const freeAfter = (await api.query.system.account(staker.address)).data.free.toBigInt();
  assert.equal(freeAfter, freeMid + value - feePaid(removed.events));
  // Principal goes first: none is held any more (an epoch in between may have left a
  // little reward in the position).
  assert.equal((await position(api, hotkey.address, staker.address)).principal, 0n);
});
