/**
 * Chains a rulebook configures (issue 5 §2, B16): EVM chains by chain id,
 * Solana clusters and Bitcoin networks by name. Each family's base unit is
 * fixed by its protocol (lamports: 9 decimals, satoshis: 8), so a rulebook
 * that says otherwise is refused rather than mispriced.
 */
import { CustodianError } from '@custodian/core/errors';
import { Fields } from '@custodian/core/fields';
import type { Json } from '@custodian/core/canonical-json';
import type { BtcNetwork } from '@custodian/chains/btc/segwit-address';

/** Most chains in one rulebook. */
export const CHAINS_MAX = 64;
/** `chainId` of a non-EVM chain: below every EVM chain id, so no EVM transaction ever maps to it. */
export const NO_EVM_CHAIN_ID = -1n;
/** Lamports per SOL (10^9). */
export const SOLANA_NATIVE_DECIMALS = 9;
/** Satoshis per BTC (10^8). */
export const BITCOIN_NATIVE_DECIMALS = 8;
/** Solana clusters (a message does not name its cluster; the wallet's configuration does). */
export const SOLANA_CLUSTERS = ['mainnet-beta', 'testnet', 'devnet', 'localnet'] as const;

/** A chain family. */
export type ChainFamily = 'evm' | 'solana' | 'bitcoin';
/** One Solana cluster. */
export type SolanaCluster = (typeof SOLANA_CLUSTERS)[number];

interface ChainConfigBase {
  /** Short name used in policies and on the command line (`eth`, `btc`, `solana-devnet`). */
  readonly name: string;
  /** The EVM chain id; NO_EVM_CHAIN_ID for other families. */
  readonly chainId: bigint;
  readonly nativeSymbol: string;
  readonly nativeDecimals: number;
}

/** An EVM chain. */
export interface EvmChainConfig extends ChainConfigBase {
  readonly family: 'evm';
}

/** A Solana cluster. */
export interface SolanaChainConfig extends ChainConfigBase {
  readonly family: 'solana';
  readonly cluster: SolanaCluster;
}

/** A Bitcoin network (its addresses' human-readable part and base58 versions). */
export interface BitcoinChainConfig extends ChainConfigBase {
  readonly family: 'bitcoin';
  readonly network: BtcNetwork;
}

/** A chain as policy knows it. */
export type ChainConfig = EvmChainConfig | SolanaChainConfig | BitcoinChainConfig;

/** The network (Bitcoin) or cluster (Solana) of a chain; null for EVM. */
export function chainNetwork(c: ChainConfig): string | null {
  return c.family === 'bitcoin' ? c.network : c.family === 'solana' ? c.cluster : null;
}

/**
 * Decodes `{ "eth": { family: "evm", chainId, nativeSymbol, nativeDecimals },
 * "sol": { family: "solana", cluster, nativeSymbol, nativeDecimals: 9 },
 * "btc": { family: "bitcoin", network, nativeSymbol, nativeDecimals: 8 } }`.
 */
export function decodeChains(json: Json): ReadonlyMap<string, ChainConfig> {
  const f = new Fields(json, 'chains');
  const out = new Map<string, ChainConfig>();
  if (json === null || typeof json !== 'object' || Array.isArray(json)) throw new CustodianError('E_FIELD_INVALID', 'chains must be an object');
  const names = Object.keys(json);
  if (names.length > CHAINS_MAX) throw new CustodianError('E_FIELD_INVALID', `more than ${CHAINS_MAX} chains`);
  for (const name of names) {
    if (!/^[a-z0-9-]{1,32}$/.test(name)) throw new CustodianError('E_FIELD_INVALID', `chain name "${name.slice(0, 40)}" is invalid`);
    const c = f.obj(name);
    const family = c.str('family', 8, /^(evm|solana|bitcoin)$/) as ChainFamily;
    const nativeSymbol = c.str('nativeSymbol', 16);
    if (family === 'evm') {
      out.set(name, { name, family, chainId: BigInt(c.int('chainId', 1)), nativeSymbol, nativeDecimals: c.int('nativeDecimals', 0, 36) });
    } else if (family === 'solana') {
      const cluster = c.str('cluster', 16, /^(mainnet-beta|testnet|devnet|localnet)$/) as SolanaCluster;
      out.set(name, { name, family, cluster, chainId: NO_EVM_CHAIN_ID, nativeSymbol, nativeDecimals: c.int('nativeDecimals', SOLANA_NATIVE_DECIMALS, SOLANA_NATIVE_DECIMALS) });
    } else {
      const network = c.str('network', 16, /^(mainnet|testnet|regtest)$/) as BtcNetwork;
      out.set(name, { name, family, network, chainId: NO_EVM_CHAIN_ID, nativeSymbol, nativeDecimals: c.int('nativeDecimals', BITCOIN_NATIVE_DECIMALS, BITCOIN_NATIVE_DECIMALS) });
    }
    c.done();
  }
  f.done();
  return out;
}
