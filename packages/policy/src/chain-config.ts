/** Chains a rulebook configures: their chain id and native coin (issue 5 §2, B16). */
import { CustodianError } from '@custodian/core/errors';
import { Fields } from '@custodian/core/fields';
import type { Json } from '@custodian/core/canonical-json';

/** Most chains in one rulebook. */
export const CHAINS_MAX = 64;

/** An EVM chain as policy knows it. */
export interface ChainConfig {
  /** Short name used in policies and on the command line (`eth`). */
  readonly name: string;
  readonly family: 'evm';
  readonly chainId: bigint;
  readonly nativeSymbol: string;
  readonly nativeDecimals: number;
}

/** Decodes `{ "eth": { family, chainId, nativeSymbol, nativeDecimals } }`. */
export function decodeChains(json: Json): ReadonlyMap<string, ChainConfig> {
  const f = new Fields(json, 'chains');
  const out = new Map<string, ChainConfig>();
  if (json === null || typeof json !== 'object' || Array.isArray(json)) throw new CustodianError('E_FIELD_INVALID', 'chains must be an object');
  const names = Object.keys(json);
  if (names.length > CHAINS_MAX) throw new CustodianError('E_FIELD_INVALID', `more than ${CHAINS_MAX} chains`);
  for (const name of names) {
    if (!/^[a-z0-9-]{1,32}$/.test(name)) throw new CustodianError('E_FIELD_INVALID', `chain name "${name.slice(0, 40)}" is invalid`);
    const c = f.obj(name);
    const family = c.str('family', 8, /^evm$/) as 'evm';
    out.set(name, { name, family, chainId: BigInt(c.int('chainId', 1)), nativeSymbol: c.str('nativeSymbol', 16), nativeDecimals: c.int('nativeDecimals', 0, 36) });
    c.done();
  }
  f.done();
  return out;
}
