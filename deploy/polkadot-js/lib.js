// Staking on a Tessera chain with polkadot.js: nothing here needs custom type definitions;
// everything (the `tessera` pallet, its events and errors, the `TesseraApi` runtime API)
// comes from the runtime's metadata.
import { ApiPromise, WsProvider } from '@polkadot/api';

/** Connects to a node and waits until the API is ready. */
export async function connect(url) {
  const api = await ApiPromise.create({ provider: new WsProvider(url), noInitWarn: true, throwOnConnect: true });
  await api.isReady;
  return api;
}

/** The chain's token: symbol and decimals from its properties. */
export function token(api) {
  return { symbol: api.registry.chainTokens[0], decimals: api.registry.chainDecimals[0], ss58: api.registry.chainSS58 };
}

/** `amount` in whole tokens (a number or a decimal string) as plancks (BigInt). */
export function toPlancks(api, amount) {
  const { decimals } = token(api);
  const [whole, frac = ''] = String(amount).split('.');
  return BigInt(whole) * 10n ** BigInt(decimals) + BigInt((frac + '0'.repeat(decimals)).slice(0, decimals) || '0');
}

/** Plancks as a decimal string with the token symbol. */
export function format(api, plancks) {
  const { symbol, decimals } = token(api);
  const p = BigInt(plancks);
  const base = 10n ** BigInt(decimals);
  return `${p / base}.${(p % base).toString().padStart(decimals, '0')} ${symbol}`;
}

/**
 * Signs and submits `tx`, resolves when its block is finalized with the block hash and the
 * events of the extrinsic, or rejects with the named pallet error (`tessera.StakeTooLow`).
 */
export function submit(api, tx, signer, { timeoutMs = 60_000 } = {}) {
  return new Promise((resolve, reject) => {
    let unsub = () => {};
    const timer = setTimeout(() => { unsub(); reject(new Error(`not finalized within ${timeoutMs} ms`)); }, timeoutMs);
    const done = (f) => (v) => { clearTimeout(timer); unsub(); f(v); };
    tx.signAndSend(signer, ({ status, events, dispatchError }) => {
      if (dispatchError) {
        let message = dispatchError.toString();
        if (dispatchError.isModule) {
          const e = api.registry.findMetaError(dispatchError.asModule);
          message = `${e.section}.${e.name}: ${e.docs.join(' ')}`;
        }
        const err = new Error(message);
        err.events = events;
        done(reject)(err);
      } else if (status.isFinalized) {
        done(resolve)({ blockHash: status.asFinalized, events });
      } else if (status.isDropped || status.isInvalid || status.isUsurped) {
        done(reject)(new Error(`transaction ${status.type}`));
      }
    }).then((u) => { unsub = u; }, done(reject));
  });
}

/** The first event `section.method` among `events`, or undefined. */
export function findEvent(events, section, method) {
  return events.map((r) => r.event).find((e) => e.section === section && e.method === method);
}

/** The fee paid by the extrinsic of `events` (`transactionPayment.TransactionFeePaid`). */
export function feePaid(events) {
  const e = findEvent(events, 'transactionPayment', 'TransactionFeePaid');
  return e ? e.data.actualFee.toBigInt() + e.data.tip.toBigInt() : 0n;
}

/** One subnet's metagraph from the runtime API. */
export async function metagraph(api, netuid, at) {
  const a = at ? await api.at(at) : api;
  return (await a.call.tesseraApi.metagraph(netuid)).unwrap();
}

/**
 * A coldkey's position in a hotkey's stake pool: its shares, held principal, and value
 * (`shares * pool value / pool shares`, rounded down as the chain does).
 */
export async function position(api, hotkey, coldkey, at) {
  const a = at ? await api.at(at) : api;
  const [pos, value, shares] = await Promise.all([
    a.query.tessera.stake(hotkey, coldkey),
    a.query.tessera.totalHotkeyStake(hotkey),
    a.query.tessera.totalHotkeyShares(hotkey),
  ]);
  const p = pos.isSome ? pos.unwrap() : null;
  const mine = p ? p.shares.toBigInt() : 0n;
  const pool = { value: value.toBigInt(), shares: shares.toBigInt() };
  return {
    shares: mine,
    principal: p ? p.principal.toBigInt() : 0n,
    value: pool.shares === 0n ? 0n : (mine * pool.value) / pool.shares,
    pool,
  };
}
