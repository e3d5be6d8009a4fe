/**
 * A minimal Ethereum JSON-RPC client for broadcasting and reading receipts.
 * The node is untrusted for custody decisions: the enclave decodes and signs
 * on its own; the node only carries transactions to the chain.
 */
import { CustodianError } from '@custodian/core/errors';

/** Most bytes of an RPC answer read. */
export const ETH_RPC_RESPONSE_BYTES_MAX = 4 * 1024 * 1024;
/** Most time one RPC call may take. */
export const ETH_RPC_TIMEOUT_MS = 15_000;

/** A receipt's fields the host uses. */
export interface Receipt {
  readonly status: 'success' | 'reverted';
  readonly blockNumber: bigint;
  readonly gasUsed: bigint;
}

const QUANTITY_RE = /^0x(0|[1-9a-f][0-9a-f]{0,63})$/i;

/** Decodes a JSON-RPC QUANTITY from the (untrusted) node; E_CHAIN_RPC otherwise. */
export function quantity(v: unknown, field: string): bigint {
  if (typeof v !== 'string' || !QUANTITY_RE.test(v)) throw new CustodianError('E_CHAIN_RPC', `node answered an invalid ${field}`, { field });
  return BigInt(v);
}

/** JSON-RPC client over HTTP. */
export class EthRpc {
  #id = 1;
  constructor(readonly url: string) {}

  /** Calls a method; throws E_CHAIN_RPC on transport or node errors. */
  async call<T>(method: string, params: unknown[]): Promise<T> {
    let res: Response;
    try {
      res = await fetch(this.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ jsonrpc: '2.0', id: this.#id++, method, params }),
        signal: AbortSignal.timeout(ETH_RPC_TIMEOUT_MS),
      });
    } catch (e) {
      throw new CustodianError('E_UNAVAILABLE', `Ethereum node at ${this.url} is unreachable: ${(e as Error).message}`);
    }
    const text = await res.text();
    if (text.length > ETH_RPC_RESPONSE_BYTES_MAX) throw new CustodianError('E_CHAIN_RPC', 'node answer is too large');
    let body: { result?: T; error?: { message?: string; code?: number } };
    try {
      body = JSON.parse(text) as typeof body;
    } catch {
      throw new CustodianError('E_CHAIN_RPC', `node answered ${res.status} with non-JSON`);
    }
    if (body.error) throw new CustodianError('E_CHAIN_RPC', `node refused ${method}: ${body.error.message ?? 'unknown error'}`, { rpcCode: body.error.code ?? null });
    return body.result as T;
  }

  async chainId(): Promise<bigint> {
    return quantity(await this.call<unknown>('eth_chainId', []), 'chain id');
  }

  async nonceOf(address: string): Promise<bigint> {
    return quantity(await this.call<unknown>('eth_getTransactionCount', [address, 'pending']), 'nonce');
  }

  async balanceOf(address: string): Promise<bigint> {
    return quantity(await this.call<unknown>('eth_getBalance', [address, 'latest']), 'balance');
  }

  /** Suggested EIP-1559 fees: tip and a max fee of 2×base + tip. */
  async fees(): Promise<{ maxPriorityFeePerGas: bigint; maxFeePerGas: bigint }> {
    const block = await this.call<{ baseFeePerGas?: string }>('eth_getBlockByNumber', ['latest', false]);
    const base = quantity(block?.baseFeePerGas ?? '0x0', 'base fee');
    const tip = 1_000_000_000n;
    return { maxPriorityFeePerGas: tip, maxFeePerGas: base * 2n + tip };
  }

  async sendRaw(signedTx: string): Promise<string> {
    return this.call<string>('eth_sendRawTransaction', [signedTx]);
  }

  async receipt(txHash: string): Promise<Receipt | null> {
    const r = await this.call<{ status: string; blockNumber: string; gasUsed: string } | null>('eth_getTransactionReceipt', [txHash]);
    if (!r) return null;
    return { status: r.status === '0x1' ? 'success' : 'reverted', blockNumber: quantity(r.blockNumber, 'block number'), gasUsed: quantity(r.gasUsed, 'gas used') };
  }
}
