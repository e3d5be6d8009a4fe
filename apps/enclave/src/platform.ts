/**
 * What the enclave needs from its TEE platform: attestation evidence for
 * chosen report data, a sealing key bound to its measurement, and storage of
 * sealed blobs (kept by the untrusted parent). `sim` implements it over the
 * launcher's IPC channel; Nitro/TDX/SNP attesters slot in here.
 */
export interface Platform {
  /** Platform name as evidence reports it. */
  readonly name: 'sim';
  /** Evidence binding `reportData` (64 bytes) and this enclave's measurement. */
  attest(reportData: Uint8Array): Promise<Uint8Array>;
  /** A 32-byte key bound to this enclave's measurement and identity slot. */
  sealingKey(): Promise<Uint8Array>;
  /** The last sealed blob the parent stored, if any. */
  loadSealed(): Promise<Uint8Array | null>;
  /** Asks the parent to store a sealed blob durably. */
  storeSealed(blob: Uint8Array): Promise<void>;
  /** The platform's monotonic counter (0 when never advanced): the anchor against sealed-state rollback. */
  readCounter(): Promise<bigint>;
  /** Advances the monotonic counter to `value`; it never goes back. */
  advanceCounter(value: bigint): Promise<void>;
  /** The enclave's clock (ms since epoch). */
  nowMs(): number;
  /**
   * The key broker this enclave was launched to trust, or null without one:
   * its `kbs-signing` public key (SEC1), which break-glass executions and
   * recovery answers must verify under, and the organisation's recovery
   * public key as the broker's signed release answer named it (null until
   * `sealingKey()` ran, or when the broker named none).
   */
  keyBroker(): KeyBrokerTrust | null;
  /**
   * The key broker's routes a running enclave uses, as the parent forwards
   * them (null without a broker): a nonce, and a workload credential for its
   * identity key (issue 7 item 7). Bytes only: the enclave decodes and
   * verifies every answer itself.
   */
  kbsChannel(): KbsChannel | null;
}

/** The broker's nonce and credential routes through the parent (see `Platform.kbsChannel`). */
export interface KbsChannel {
  /** POST /v1/nonce; the answer body. */
  nonce(): Promise<Uint8Array>;
  /** POST /v1/credential with `body` (canonical JSON); the answer body, whatever its HTTP status. */
  credential(body: Uint8Array): Promise<Uint8Array>;
}

/** What an enclave knows of its key broker (see `Platform.keyBroker`). */
export interface KeyBrokerTrust {
  readonly publicKey: Uint8Array;
  readonly recoveryKey: Uint8Array | null;
}
