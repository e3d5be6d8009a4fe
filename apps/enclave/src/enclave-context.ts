/**
 * What the enclave's operation modules may use of the Enclave: its state,
 * manifest and policy, its clock and attestation, and the persist / audit /
 * refuse discipline every operation follows. The Enclave builds one context
 * over its private fields; nothing else reaches them.
 */
import type { Json } from '@custodian/core/canonical-json';
import type { Manifest } from '@custodian/protocol/manifest';
import type { RpcPeer } from '@custodian/protocol/frame-rpc';
import type { PeerChannel } from '@custodian/protocol/hpke/peer-channel';
import type { EnclaveState } from './state.js';
import type { CedarPolicy } from './cedar-policy.js';
import type { SealedNonceStore } from './sealed-nonce-store.js';
import type { KbsChannel, KeyBrokerTrust } from './platform.js';

export interface EnclaveContext {
  readonly signerId: string;
  /** The unsealed state (E_SIGNER_NOT_READY when there is none). */
  state(): EnclaveState;
  /** The installed organisation manifest (E_NO_MANIFEST unless READY with one). */
  manifest(): Manifest;
  /** The Cedar rulebook and spending ledger, when the installed manifest pins a rulebook. */
  cedar(): CedarPolicy | null;
  /** The platform clock (ms since epoch). */
  nowMs(): number;
  /**
   * A 32-byte key derived from the sealing key for `label` (HKDF-SHA256): the
   * same in every enclave of this build and signer id, and only there.
   */
  sealingDerivedKey(label: string): Uint8Array;
  /** The key broker this enclave was launched to trust (null: none). */
  keyBroker(): KeyBrokerTrust | null;
  /** The key broker's routes through the parent (null: none; workload credentials need them). */
  kbsChannel(): KbsChannel | null;
  /** Platform evidence binding `reportData`. */
  attest(reportData: Uint8Array): Promise<Uint8Array>;
  /** The identity public key (Ed25519) that evidence binds. */
  identityKey(): Uint8Array;
  /** Seals and stores the state (serialised). */
  persist(): Promise<void>;
  /** Appends an audit entry through the host (fail-closed). */
  audit(peer: RpcPeer, kind: string, requestId: string | null, data: Json): Promise<void>;
  /** Audits a refusal, persists the chain head, and rethrows it. */
  refuse(peer: RpcPeer, kind: string, requestId: string | null, e: unknown, extra?: Record<string, Json>): Promise<never>;
  /** Whether a refusal was already written to the audit log. */
  wasAudited(e: object): boolean;
  /** The peer channel to every verified peer with a channel key (built on first use). */
  peerChannel(): Promise<PeerChannel>;
  /** The peer channel if one is built (closing a session never builds one). */
  openChannel(): PeerChannel | null;
  /** The verified peers changed: the channel is rebuilt on next use. */
  peersChanged(): void;
  /** A manifest (and its Cedar policy, if it pins a rulebook) was installed: the signer is READY. */
  manifestInstalled(cedar: CedarPolicy | null): void;
  /**
   * Makes `next` this signer's state (a restore into a pristine signer): it
   * takes the current version (persist seals it one higher), and the phase,
   * policy and peer keys follow it.
   */
  replaceState(next: EnclaveState): void;
  /** FROST signing nonces, kept in sealed state. */
  readonly nonceStore: SealedNonceStore;
}
