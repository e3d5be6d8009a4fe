/** The meaning of an EVM call's calldata, as far as the decoder understood it. */

/** Safe `operation` values (Safe contracts, Enum.Operation). */
export type SafeOperation = 'call' | 'delegatecall';

/** One inner call of a Safe transaction or a MultiSend batch. */
export interface InnerCall {
  readonly operation: SafeOperation;
  readonly to: Uint8Array;
  readonly value: bigint;
  readonly data: Uint8Array;
  /** What `data` means when called on `to`. */
  readonly call: DecodedCall;
}

/**
 * A decoded call. `unknown` means the selector is not one we recognise: it is
 * never "safe" (issue 5: unknown calldata is unknown).
 */
export type DecodedCall =
  | { readonly kind: 'none' }
  | { readonly kind: 'erc20-transfer'; readonly recipient: Uint8Array; readonly amount: bigint }
  | { readonly kind: 'erc20-transfer-from'; readonly from: Uint8Array; readonly recipient: Uint8Array; readonly amount: bigint }
  | { readonly kind: 'erc20-approve'; readonly spender: Uint8Array; readonly amount: bigint }
  | { readonly kind: 'erc20-increase-allowance'; readonly spender: Uint8Array; readonly amount: bigint }
  | { readonly kind: 'erc20-permit'; readonly owner: Uint8Array; readonly spender: Uint8Array; readonly amount: bigint; readonly deadline: bigint }
  | { readonly kind: 'set-approval-for-all'; readonly operator: Uint8Array; readonly approved: boolean }
  | { readonly kind: 'safe-exec-transaction'; readonly inner: InnerCall; readonly gasToken: Uint8Array; readonly refundReceiver: Uint8Array; readonly gasPrice: bigint }
  | { readonly kind: 'multisend'; readonly calls: readonly InnerCall[] }
  | { readonly kind: 'privileged'; readonly method: string }
  | { readonly kind: 'unknown'; readonly selector: string };
