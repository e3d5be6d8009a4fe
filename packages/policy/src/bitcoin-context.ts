/**
 * The Cedar context of a Bitcoin taproot key-path spend, derived inside the
 * enclave from the PSBT it signs (issue 5 §2). Steps, in order:
 *
 * 1. decode the PSBT (`decodePsbt`) and read it as a spend of the wallet's
 *    P2TR output key (`taprootSpendView`): every input spends a witness UTXO
 *    locked to that key, SIGHASH_DEFAULT or ALL, outputs ≤ inputs. A PSBT
 *    that fails any of these is not described: its typed error
 *    (E_PSBT_MALFORMED, E_BTC_UTXO_MISSING, E_BTC_NOT_P2TR,
 *    E_BTC_KEY_MISMATCH, E_BTC_SIGHASH, E_BTC_FEE_NEGATIVE, E_BTC_KEY …) is
 *    the refusal.
 * 2. classify each output script: P2PKH and P2SH (base58check addresses),
 *    P2WPKH, P2WSH (bech32), P2TR (bech32m). An output paying the wallet's own
 *    output key is change: it is neither spend nor destination. Any other
 *    script (OP_RETURN, bare keys or multisig, witness v1 of another length,
 *    future witness versions) is E_BTC_OUTPUT_SCRIPT_UNKNOWN: nothing may be
 *    paid where no address says who can spend it.
 * 3. amount = the sum of the non-change outputs in satoshis; fee = inputs −
 *    outputs, and the fee rate over the signed transaction's virtual size
 *    (one 64-byte, or 65 with SIGHASH_ALL, key-path signature per input).
 *    The input amounts are the PSBT's claims; BIP 341 signs them, so a lie
 *    makes the signature invalid rather than the fee wrong.
 * 4. findings that deny whatever the policies say: screening hits on any
 *    destination (bech32 compared lower-case, base58 exactly), a wallet not
 *    configured for the chain, stale governed data, a price whose decimals
 *    are not 8, a declaration that differs from the bytes (B18).
 */
import type { CedarValueJson } from '@cedar-policy/cedar-wasm/nodejs';
import { concatBytes } from '@custodian/core/bytes';
import { decodePsbt, type Psbt } from '@custodian/chains/btc/psbt';
import { segwitAddressOf, type BtcNetwork } from '@custodian/chains/btc/segwit-address';
import { taprootSpendView, type TaprootSpendView } from '@custodian/chains/btc/taproot-psbt';
import { encodeBitcoinTx, sha256d } from '@custodian/chains/btc/transaction';
import { SIGHASH_DEFAULT } from '@custodian/chains/btc/bip341';
import { base58Encode } from '@custodian/chains/sol/base58';
import { chainAddressKey } from './address-key.js';
import type { BitcoinChainConfig } from './chain-config.js';
import { amountFacts, checkFreshness, mergeParties, partyFacts, priceOf, screenAddresses, type PolicyDataRefs, type PolicyFacts } from './context-facts.js';
import type { GuardFinding } from './decision.js';
import { checkDeclaredIntent } from './declared-intent.js';
import type { DeclaredIntent } from './evm-context.js';
import { NATIVE_ASSET } from './price-table.js';
import type { DestinationPortion, VelocityLedger } from './velocity-ledger.js';

/** Base58check version bytes (Bitcoin Core chainparams: PUBKEY_ADDRESS, SCRIPT_ADDRESS). */
export const BASE58_VERSIONS: Readonly<Record<BtcNetwork, { readonly p2pkh: number; readonly p2sh: number }>> = Object.freeze({
  mainnet: { p2pkh: 0x00, p2sh: 0x05 },
  testnet: { p2pkh: 0x6f, p2sh: 0xc4 },
  regtest: { p2pkh: 0x6f, p2sh: 0xc4 },
});

/** A Bitcoin wallet: its BIP 341 output key Q (x-only, 32 bytes; the FROST group key tweaked) and the rulebook chains it is configured for. */
export interface BitcoinWalletRef {
  readonly id: string;
  readonly groups: readonly string[];
  readonly outputKey: Uint8Array;
  readonly chains: readonly string[];
}

/** Inputs of Bitcoin context derivation. */
export interface BitcoinContextInput {
  /** The PSBT (BIP 174 v0) bytes. */
  readonly psbt: Uint8Array;
  readonly chain: BitcoinChainConfig;
  readonly wallet: BitcoinWalletRef;
  readonly initiator: string;
  readonly intent: DeclaredIntent | null;
  readonly data: PolicyDataRefs;
  readonly ledger: VelocityLedger | null;
  readonly nowMs: number;
}

/** Kinds of output script. */
export type BitcoinOutputKind = 'p2pkh' | 'p2sh' | 'p2wpkh' | 'p2wsh' | 'p2tr' | 'unknown';

/** One output as policy reads it. */
export interface BitcoinOutputFacts {
  readonly index: number;
  readonly kind: BitcoinOutputKind;
  /** The address (lookup key form); null for `unknown`. */
  readonly address: string | null;
  readonly amountSat: bigint;
  /** Pays the wallet's own output key. */
  readonly change: boolean;
}

/** The derived facts of a Bitcoin spend. */
export interface BitcoinFacts extends PolicyFacts {
  readonly view: TaprootSpendView;
  readonly outputs: readonly BitcoinOutputFacts[];
  readonly vsize: number;
}

/** Derives the Cedar context and the integrity findings of a taproot spend; throws the decoder's typed errors (see above). */
export function deriveBitcoinContext(input: BitcoinContextInput): BitcoinFacts {
  const { chain, wallet, data, nowMs } = input;
  const psbt = decodePsbt(input.psbt);
  const view = taprootSpendView(psbt, wallet.outputKey, chain.network);
  const findings: GuardFinding[] = [];
  const chainIdConfigured = wallet.chains.includes(chain.name);
  if (!chainIdConfigured) findings.push({ code: 'E_CHAIN_ID_MISMATCH', reason: `wallet ${wallet.id} is not configured for ${chain.name}` });
  const fresh = checkFreshness(data, nowMs, findings);
  const outputs = view.outputs.map((o) => ({ ...classifyOutput(psbt.tx.outputs[o.index]!.script, chain.network), index: o.index, amountSat: o.amountSat, change: o.toWallet }));
  for (const o of outputs) {
    if (o.kind === 'unknown') findings.push({ code: 'E_BTC_OUTPUT_SCRIPT_UNKNOWN', reason: `output ${o.index} (${o.amountSat} sat) pays script ${view.outputs[o.index]!.script.slice(0, 80)}, which has no address Custodian pays to` });
  }
  const paid = outputs.filter((o) => !o.change);
  const addresses = [...new Set(paid.flatMap((o) => (o.address === null ? [] : [o.address])))];
  screenAddresses(addresses, chain, data.screening, findings);
  const baseUnits = paid.reduce((n, o) => n + o.amountSat, 0n);
  const price = fresh ? data.priceTable.lookup(chain.name, NATIVE_ASSET) : undefined;
  if (price !== undefined && price.decimals !== chain.nativeDecimals) findings.push({ code: 'E_PRICE_DECIMALS_MISMATCH', reason: `the price table gives ${chain.name} BTC ${price.decimals} decimals, not ${chain.nativeDecimals}` });
  const priced = fresh ? priceOf(data.priceTable, chain, NATIVE_ASSET, baseUnits) : { valueMinor: null, symbol: '' };
  const fee = fresh ? priceOf(data.priceTable, chain, NATIVE_ASSET, view.feeSat) : { valueMinor: null, symbol: '' };
  const portions: DestinationPortion[] = addresses.map((a) => {
    const sat = paid.filter((o) => o.address === a).reduce((n, o) => n + o.amountSat, 0n);
    return { destination: `${chain.name}:${a}`, baseUnits: sat, valueMinor: fresh ? priceOf(data.priceTable, chain, NATIVE_ASSET, sat).valueMinor : null };
  });
  checkDeclaredIntent(input.intent, { destinations: addresses, asset: NATIVE_ASSET, baseUnits }, chain, findings);
  const vsize = signedVsize(psbt);
  const party = (key: string | null): Record<string, CedarValueJson> => partyFacts(key, chain, wallet, data.addressBook, input.ledger, data.screening);
  const change = outputs.filter((o) => o.change);
  const context: Record<string, CedarValueJson> = {
    chain: chain.name,
    family: chain.family,
    chainId: 0,
    chainIdConfigured,
    asset: NATIVE_ASSET,
    assetSymbol: chain.nativeSymbol,
    amount: amountFacts(baseUnits, priced),
    destination: addresses.length === 0 ? party(null) : addresses.length === 1 ? party(addresses[0]!) : mergeParties(addresses.map((a) => party(a))),
    call: {
      kind: 'bitcoin',
      method: 'p2tr-key-path',
      known: outputs.every((o) => o.kind !== 'unknown'),
      target: party(null),
      delegatecall: false,
      delegatecallAllowed: true,
      privileged: false,
      unlimitedApproval: false,
      movements: portions.length,
    },
    fee: amountFacts(view.feeSat, fee),
    initiator: input.initiator,
    bitcoin: {
      inputs: view.inputs.length,
      outputs: outputs.length,
      changeOutputs: change.length,
      changeSat: change.reduce((n, o) => n + o.amountSat, 0n).toString(),
      vsize,
      // Fee ≤ 21M BTC and vsize ≥ 1, so the rate fits a safe integer.
      feeRateSatPerVb: Number((view.feeSat + BigInt(vsize) - 1n) / BigInt(vsize)),
    },
  };
  const spend = {
    asset: `${chain.name}:${NATIVE_ASSET}`,
    destination: portions[0]?.destination ?? `${chain.name}:none`,
    valueMinor: priced.valueMinor,
    baseUnits,
    ...(portions.length > 1 ? { destinations: portions } : {}),
  };
  return { action: 'transfer', context, findings, privileged: false, spend, view, outputs, vsize };
}

/** The kind and address of an output script on `network` (address in lookup-key form). */
export function classifyOutput(script: Uint8Array, network: BtcNetwork): { kind: BitcoinOutputKind; address: string | null } {
  const n = script.length;
  // P2PKH: OP_DUP OP_HASH160 <20> OP_EQUALVERIFY OP_CHECKSIG
  if (n === 25 && script[0] === 0x76 && script[1] === 0xa9 && script[2] === 0x14 && script[23] === 0x88 && script[24] === 0xac) {
    return { kind: 'p2pkh', address: base58Check(BASE58_VERSIONS[network].p2pkh, script.subarray(3, 23)) };
  }
  // P2SH: OP_HASH160 <20> OP_EQUAL
  if (n === 23 && script[0] === 0xa9 && script[1] === 0x14 && script[22] === 0x87) {
    return { kind: 'p2sh', address: base58Check(BASE58_VERSIONS[network].p2sh, script.subarray(2, 22)) };
  }
  const address = segwitAddressOf(network, script);
  if (address === null) return { kind: 'unknown', address: null };
  const key = chainAddressKey('bitcoin', address);
  if (script[0] === 0x00) return { kind: n === 22 ? 'p2wpkh' : 'p2wsh', address: key };
  // BIP 341: only witness v1 with a 32-byte program is taproot; other v1 lengths and v2+ are unencumbered today.
  if (script[0] === 0x51 && n === 34) return { kind: 'p2tr', address: key };
  return { kind: 'unknown', address: null };
}

function base58Check(version: number, payload: Uint8Array): string {
  const body = concatBytes(Uint8Array.of(version), payload);
  return base58Encode(concatBytes(body, sha256d(body).subarray(0, 4)));
}

/** Virtual size of the transaction once every input carries its key-path signature (BIP 141 weight / 4, rounded up). */
export function signedVsize(psbt: Psbt): number {
  const base = encodeBitcoinTx(psbt.tx, false).length;
  // Marker and flag, then per input: item count (1), signature length (1), signature (64, or 65 with an explicit hash type).
  const witness = 2 + psbt.inputs.reduce((n, i) => n + 2 + ((i.sighashType ?? SIGHASH_DEFAULT) === SIGHASH_DEFAULT ? 64 : 65), 0);
  return Math.ceil((base * 4 + witness) / 4);
}
