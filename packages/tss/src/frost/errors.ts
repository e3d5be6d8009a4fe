/**
 * The closed set of error codes the FROST layer raises (THREATS.md case IDs in
 * the comments). Every refusal is a CustodianError with one of these codes and
 * structured detail naming the culprit party when one is known.
 */
import { CustodianError } from '@custodian/core/errors';

/** Machine-readable reasons for a FROST refusal. */
export type FrostErrorCode =
  | 'E_PARTY_ID_INVALID' // B29
  | 'E_MPC_SHAPE' // B31
  | 'E_DKG_POK_INVALID' // B28
  | 'E_DKG_SHARE_INVALID' // a VSS share that fails its commitment check
  | 'E_BROADCAST_EQUIVOCATION' // F05
  | 'E_ECHO_FORGED' // F05: a reporter echoed a digest the sender never signed
  | 'E_BROADCAST_SIGNATURE_INVALID' // a signed broadcast whose signature does not verify
  | 'E_NONCE_REUSED' // B30
  | 'E_NONCE_UNKNOWN' // a commitment this signer never produced
  | 'E_SESSION_MISMATCH' // L08
  | 'E_SIGNER_NOT_IN_SET' // a share or commitment from a party outside the signing set
  | 'E_SIGNATURE_SHARE_INVALID' // F04, verifiable signature shares
  | 'E_QUORUM_UNAVAILABLE' // F04, fewer than t honest signers
  | 'E_FROST_ELEMENT_INVALID' // zero/identity elements, scalars out of range, bad encodings
  | 'E_REFRESH_NOT_ZERO' // a refresh contribution that does not sum to zero
  | 'E_RESHARE_INVALID' // a reshare contribution inconsistent with the old key
  | 'E_FROST_SUITE_UNKNOWN'
  | 'E_FROST_MESSAGE_INVALID'; // a wire message that is not one of ours

/** Builds a CustodianError carrying a FROST error code. */
export function frostError(code: FrostErrorCode, message: string, detail: Record<string, unknown> = {}): CustodianError<FrostErrorCode> {
  return new CustodianError(code, message, detail);
}
