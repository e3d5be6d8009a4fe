/**
 * The Cedar context of a Solana message (legacy or v0), derived inside the
 * enclave from the message bytes the wallet signs — never from the host's
 * description (issue 5 §2). Steps, in order:
 *
 * 1. decode (`decodeSolanaMessage`) and check the spend against the wallet
 *    (`checkSolanaSpend`, THREATS B19): the fee payer is the wallet and the
 *    only signer, every instruction is recognised (System transfer, SPL
 *    Token / Token-2022 Transfer and TransferChecked, associated token
 *    account creation, compute budget, an intended durable-nonce advance),
 *    no account is writable unless a recognised instruction writes it. A
 *    message that fails any of these is not described at all: the typed
 *    error (E_SOLANA_MESSAGE_MALFORMED, E_SOLANA_INSTRUCTION_MALFORMED,
 *    E_SOLANA_ACCOUNT_MISMATCH with `detail.reason`) is the refusal.
 * 2. read the movements: what leaves the wallet, in which asset (native SOL
 *    or the SPL mint), to whom. A token transfer pays a token account; its
 *    owner is known when the same message creates that associated token
 *    account or when the declared destination derives it, and is then the
 *    destination the address book and limits see.
 * 3. findings that deny whatever the policies say: more than one asset in
 *    one message (E_SOLANA_MIXED_ASSETS: limits and prices are per asset), a
 *    Transfer whose mint cannot be named (E_SOLANA_ASSET_UNKNOWN; use
 *    TransferChecked), a price whose decimals differ from the transfer's
 *    (E_PRICE_DECIMALS_MISMATCH), screening hits on any account of the
 *    message or resolved owner, a wallet not configured for the chain,
 *    stale governed data, a declaration that differs from the bytes (B18).
 */
import type { CedarValueJson } from '@cedar-policy/cedar-wasm/nodejs';
import { isCustodianError } from '@custodian/core/errors';
import { base58Encode, solanaAddressBytes } from '@custodian/chains/sol/base58';
import { associatedTokenAddress, type SolanaInstructionView } from '@custodian/chains/sol/instructions';
import { decodeSolanaMessage } from '@custodian/chains/sol/message';
import { TOKEN_PROGRAM_ID } from '@custodian/chains/sol/program-ids';
import { checkSolanaSpend, type SolanaSpendView } from '@custodian/chains/sol/spend';
import type { SolanaChainConfig } from './chain-config.js';
import { amountFacts, checkFreshness, mergeParties, partyFacts, priceOf, screenAddresses, type PolicyDataRefs, type PolicyFacts } from './context-facts.js';
import type { GuardFinding } from './decision.js';
import { checkDeclaredIntent } from './declared-intent.js';
import type { DeclaredIntent } from './evm-context.js';
import { NATIVE_ASSET, type PriceTable } from './price-table.js';
import type { PolicyAction } from './schema.js';
import type { DestinationPortion, VelocityLedger } from './velocity-ledger.js';

/**
 * Rent-exempt minimum of an SPL Token account (165 bytes): (165 + 128) bytes
 * × 3,480 lamports per byte-year × 2 years, at Solana's default rent. Paid by
 * the wallet when it creates the recipient's associated token account.
 */
export const SPL_TOKEN_ACCOUNT_RENT_LAMPORTS = 2_039_280n;
/** Ceiling for a Token-2022 account, whose size depends on the mint's extensions (512 bytes assumed, more than any common set). */
export const TOKEN_2022_ACCOUNT_RENT_LAMPORTS_MAX = (512n + 128n) * 3_480n * 2n;

/** A Solana wallet: its address (base58 of the FROST Ed25519 group key) and the rulebook chains it is configured for. */
export interface SolanaWalletRef {
  readonly id: string;
  readonly groups: readonly string[];
  readonly address: string;
  readonly chains: readonly string[];
}

/** What the signer intends beyond the wallet (passed to `checkSolanaSpend`). */
export interface SolanaExpectation {
  /** The recent blockhash (or nonce value) the message must carry. */
  readonly recentBlockhash?: Uint8Array;
  /** The durable-nonce account the message must advance first; absent: no nonce advance allowed. */
  readonly durableNonceAccount?: Uint8Array;
}

/** Inputs of Solana context derivation. */
export interface SolanaContextInput {
  /** The serialised message: exactly the bytes the wallet's signature covers. */
  readonly messageBytes: Uint8Array;
  readonly chain: SolanaChainConfig;
  readonly wallet: SolanaWalletRef;
  readonly initiator: string;
  readonly intent: DeclaredIntent | null;
  readonly expect: SolanaExpectation;
  readonly data: PolicyDataRefs;
  readonly ledger: VelocityLedger | null;
  readonly nowMs: number;
}

/** The derived facts of a Solana message. */
export interface SolanaFacts extends PolicyFacts {
  readonly view: SolanaSpendView;
}

/** One amount leaving the wallet. */
interface Movement {
  /** NATIVE_ASSET or the mint; null when a plain Transfer's mint cannot be named. */
  readonly asset: string | null;
  /** The destination as limits and the address book see it: the recipient, or a token account's owner when known. */
  readonly destination: string;
  /** The token account paid, when it differs from `destination`. */
  readonly tokenAccount: string | null;
  readonly amount: bigint;
  /** TransferChecked's decimals (the program checks them against the mint). */
  readonly decimals: number | null;
}

/** Derives the Cedar context and the integrity findings of a Solana message; throws the decoder's typed errors (see above). */
export function deriveSolanaContext(input: SolanaContextInput): SolanaFacts {
  const { chain, wallet, data, nowMs } = input;
  const message = decodeSolanaMessage(input.messageBytes);
  const view = checkSolanaSpend(message, { wallet: solanaAddressBytes(wallet.address), ...input.expect });
  const findings: GuardFinding[] = [];
  const chainIdConfigured = wallet.chains.includes(chain.name);
  if (!chainIdConfigured) findings.push({ code: 'E_CHAIN_ID_MISMATCH', reason: `wallet ${wallet.id} is not configured for ${chain.name}` });
  const fresh = checkFreshness(data, nowMs, findings);
  const moves = readMovements(view.effects, wallet.address, input.intent, findings);
  const owners = moves.flatMap((m) => (m.tokenAccount === null ? [] : [m.destination]));
  screenAddresses([...new Set([...message.staticAccountKeys.map((k) => base58Encode(k)), ...owners])], chain, data.screening, findings);

  const assets = [...new Set(moves.map((m) => m.asset))];
  if (assets.length > 1) findings.push({ code: 'E_SOLANA_MIXED_ASSETS', reason: `the message moves ${assets.length} assets; one asset per request (limits and prices are per asset)` });
  const asset = assets.length === 0 ? NATIVE_ASSET : assets.length === 1 ? (assets[0] ?? 'unknown') : 'mixed';
  const priceable = fresh && asset !== 'unknown' && asset !== 'mixed';
  if (priceable) checkDecimals(data.priceTable, chain, asset, moves, findings);
  const portions = portionsOf(moves, chain, data.priceTable, priceable);
  const baseUnits = moves.reduce((n, m) => n + m.amount, 0n);
  const priced = priceable ? priceOf(data.priceTable, chain, asset, baseUnits) : { valueMinor: null, symbol: '' };
  const feeLamports = view.baseFeeLamports + view.priorityFeeLamportsMax + view.effects.reduce((n, e) => n + (e.kind === 'ata-create' ? rentOf(e.tokenProgram) : 0n), 0n);
  const fee = fresh ? priceOf(data.priceTable, chain, NATIVE_ASSET, feeLamports) : { valueMinor: null, symbol: '' };
  const destinations = portions.map((p) => p.destination.slice(chain.name.length + 1));
  checkDeclaredIntent(input.intent, { destinations, asset: asset === 'unknown' || asset === 'mixed' ? null : asset, baseUnits }, chain, findings);

  const party = (key: string | null): Record<string, CedarValueJson> => partyFacts(key, chain, wallet, data.addressBook, input.ledger, data.screening);
  const transfers = view.effects.filter((e) => e.kind === 'system-transfer' || e.kind === 'token-transfer');
  const action: PolicyAction = transfers.length > 0 ? 'transfer' : 'contract-call';
  const mints = [...new Set(moves.flatMap((m) => (m.asset === null || m.asset === NATIVE_ASSET ? [] : [m.asset])))];
  const context: Record<string, CedarValueJson> = {
    chain: chain.name,
    family: chain.family,
    chainId: 0,
    chainIdConfigured,
    asset,
    assetSymbol: asset === NATIVE_ASSET ? chain.nativeSymbol : priced.symbol,
    amount: amountFacts(baseUnits, priced),
    destination: destinations.length === 0 ? party(null) : destinations.length === 1 ? party(destinations[0]!) : mergeParties(destinations.map((d) => party(d))),
    call: {
      kind: 'solana',
      method: [...new Set(view.effects.map(methodOf))].join('+') || 'none',
      known: true,
      target: party(mints.length === 1 ? mints[0]! : null),
      delegatecall: false,
      delegatecallAllowed: true,
      privileged: false,
      unlimitedApproval: false,
      movements: portions.length,
    },
    fee: amountFacts(feeLamports, fee),
    initiator: input.initiator,
    solana: {
      version: view.version === 0 ? 'v0' : 'legacy',
      durableNonce: view.durableNonceAccount !== null,
      createsTokenAccount: view.effects.some((e) => e.kind === 'ata-create'),
      instructions: message.instructions.length,
    },
  };
  const spend = {
    asset: `${chain.name}:${asset}`,
    destination: portions[0]?.destination ?? `${chain.name}:none`,
    valueMinor: priced.valueMinor,
    baseUnits,
    ...(portions.length > 1 ? { destinations: portions } : {}),
  };
  return { action, context, findings, privileged: false, spend, view };
}

/** The movements of the recognised effects; self-transfers move nothing and are left out. */
function readMovements(effects: readonly SolanaInstructionView[], wallet: string, intent: DeclaredIntent | null, findings: GuardFinding[]): Movement[] {
  const creates = effects.flatMap((e) => (e.kind === 'ata-create' ? [e] : []));
  const out: Movement[] = [];
  for (const e of effects) {
    if (e.kind === 'system-transfer') {
      if (e.to !== wallet) out.push({ asset: NATIVE_ASSET, destination: e.to, tokenAccount: null, amount: e.lamports, decimals: null });
    } else if (e.kind === 'token-transfer') {
      const created = creates.find((c) => c.associatedAccount === e.destination && c.tokenProgram === e.tokenProgram);
      const mint = e.mint ?? created?.mint ?? mintFromIntent(intent, wallet, e.tokenProgram, e.source);
      if (mint === null) {
        findings.push({ code: 'E_SOLANA_ASSET_UNKNOWN', reason: `a token Transfer from ${e.source} does not name its mint and nothing in the request does; use TransferChecked` });
      }
      const owner = mint === null ? null : created !== undefined && created.mint === mint ? created.wallet : ownerFromIntent(intent, e.tokenProgram, mint, e.destination);
      if (owner === wallet || e.destination === e.source) continue;
      out.push({ asset: mint, destination: owner ?? e.destination, tokenAccount: e.destination, amount: e.amount, decimals: e.decimals });
    }
  }
  return out;
}

/** The declared asset when the source is the wallet's associated token account for it. */
function mintFromIntent(intent: DeclaredIntent | null, wallet: string, tokenProgram: string, source: string): string | null {
  const declared = intent?.asset;
  if (declared === undefined) return null;
  return derivesTo(wallet, tokenProgram, declared, source) ? declared : null;
}

/** The declared destination when the paid token account is its associated token account for `mint`. */
function ownerFromIntent(intent: DeclaredIntent | null, tokenProgram: string, mint: string, tokenAccount: string): string | null {
  const declared = intent?.destination;
  if (declared === undefined) return null;
  return derivesTo(declared, tokenProgram, mint, tokenAccount) ? declared : null;
}

function derivesTo(owner: string, tokenProgram: string, mint: string, account: string): boolean {
  try {
    return associatedTokenAddress(owner, tokenProgram, mint) === account;
  } catch (e) {
    // A declared value that is not a Solana address derives nothing; B18 reports it.
    if (!isCustodianError(e)) throw e;
    return false;
  }
}

/** What each destination receives, summed per destination, in first-seen order. */
function portionsOf(moves: readonly Movement[], chain: SolanaChainConfig, table: PriceTable, priceable: boolean): DestinationPortion[] {
  const sums = new Map<string, bigint>();
  for (const m of moves) sums.set(m.destination, (sums.get(m.destination) ?? 0n) + m.amount);
  const asset = moves[0]?.asset ?? NATIVE_ASSET;
  return [...sums].map(([d, amount]) => ({ destination: `${chain.name}:${d}`, baseUnits: amount, valueMinor: priceable ? priceOf(table, chain, asset, amount).valueMinor : null }));
}

/** A price must use the asset's real decimals, or every value derived from it is off by powers of ten. */
function checkDecimals(table: PriceTable, chain: SolanaChainConfig, asset: string, moves: readonly Movement[], findings: GuardFinding[]): void {
  const p = table.lookup(chain.name, asset);
  if (p === undefined) return;
  const decimals = asset === NATIVE_ASSET ? [chain.nativeDecimals] : moves.flatMap((m) => (m.decimals === null ? [] : [m.decimals]));
  if (decimals.some((d) => d !== p.decimals)) findings.push({ code: 'E_PRICE_DECIMALS_MISMATCH', reason: `the price table gives ${asset} ${p.decimals} decimals, the transfer ${decimals.join(', ')}` });
}

function rentOf(tokenProgram: string): bigint {
  return tokenProgram === TOKEN_PROGRAM_ID ? SPL_TOKEN_ACCOUNT_RENT_LAMPORTS : TOKEN_2022_ACCOUNT_RENT_LAMPORTS_MAX;
}

function methodOf(e: SolanaInstructionView): string {
  if (e.kind === 'token-transfer') return e.decimals === null ? 'token-transfer' : 'token-transfer-checked';
  return e.kind;
}
