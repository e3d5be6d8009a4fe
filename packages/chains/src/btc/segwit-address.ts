/**
 * Segwit addresses (BIP 173 bech32 for version 0, BIP 350 bech32m for
 * version 1+) from output scripts, so a policy sees the address a person
 * would recognise. Encoding only: Custodian derives addresses from scripts it
 * decoded, it never trusts an address string for the script.
 */
import { CustodianError } from '@custodian/core/errors';

/** Human-readable parts by network (BIP 173). */
export const BTC_HRP = Object.freeze({ mainnet: 'bc', testnet: 'tb', regtest: 'bcrt' } as const);
/** A Bitcoin network Custodian knows. */
export type BtcNetwork = keyof typeof BTC_HRP;

const CHARSET = 'qpzry9x8gf2tvdw0s3jn54khce6mua7l';
const BECH32_CONST = 1;
// BIP 350: "M = 0x2bc830a3".
const BECH32M_CONST = 0x2bc830a3;
const GEN = [0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3];

function polymod(values: readonly number[]): number {
  let chk = 1;
  for (const v of values) {
    const top = chk >>> 25;
    chk = ((chk & 0x1ffffff) << 5) ^ v;
    for (let i = 0; i < 5; i++) if ((top >>> i) & 1) chk ^= GEN[i]!;
  }
  return chk >>> 0;
}

function hrpExpand(hrp: string): number[] {
  const codes = [...hrp].map((c) => c.charCodeAt(0));
  return [...codes.map((c) => c >> 5), 0, ...codes.map((c) => c & 31)];
}

function toWords(bytes: Uint8Array): number[] {
  const out: number[] = [];
  let acc = 0;
  let bits = 0;
  for (const b of bytes) {
    acc = (acc << 8) | b;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out.push((acc >> bits) & 31);
    }
    acc &= (1 << bits) - 1;
  }
  if (bits > 0) out.push((acc << (5 - bits)) & 31);
  return out;
}

/** Encodes a witness program as a segwit address (bech32 for v0, bech32m for v1..16). */
export function encodeSegwitAddress(network: BtcNetwork, version: number, program: Uint8Array): string {
  if (!Number.isInteger(version) || version < 0 || version > 16) throw new CustodianError('E_ADDRESS_INVALID', `witness version ${version} is out of range`);
  // BIP 141: programs are 2..40 bytes; v0 only 20 or 32.
  if (program.length < 2 || program.length > 40 || (version === 0 && program.length !== 20 && program.length !== 32)) {
    throw new CustodianError('E_ADDRESS_INVALID', `a witness v${version} program of ${program.length} bytes is invalid`);
  }
  const hrp = BTC_HRP[network];
  const data = [version, ...toWords(program)];
  const mod = polymod([...hrpExpand(hrp), ...data, 0, 0, 0, 0, 0, 0]) ^ (version === 0 ? BECH32_CONST : BECH32M_CONST);
  const checksum = Array.from({ length: 6 }, (_, i) => (mod >>> (5 * (5 - i))) & 31);
  return `${hrp}1${[...data, ...checksum].map((d) => CHARSET[d]!).join('')}`;
}

/** The segwit address of an output script, or null for scripts that have none (P2PKH, P2SH, OP_RETURN …). */
export function segwitAddressOf(network: BtcNetwork, script: Uint8Array): string | null {
  // BIP 141 witness program: OP_0 or OP_1..OP_16, then one direct push of 2..40 bytes.
  if (script.length < 4 || script.length > 42) return null;
  const op = script[0]!;
  const version = op === 0x00 ? 0 : op >= 0x51 && op <= 0x60 ? op - 0x50 : -1;
  if (version < 0 || script[1] !== script.length - 2) return null;
  const program = script.subarray(2);
  if (version === 0 && program.length !== 20 && program.length !== 32) return null;
  return encodeSegwitAddress(network, version, program);
}
