/**
 * The Custodian Cedar schema: the one vocabulary every rulebook is validated
 * against (issue 5 §1). Principals are operators in groups; resources are
 * wallets in wallet groups; the context of transaction actions holds only
 * facts derived inside the enclave from the decoded raw transaction. Large
 * sets (address book, screening list) never enter Cedar: the context carries
 * the lookup results (`listed`, `labels`, `sanctioned`), DESIGN.md "Measured
 * facts".
 */

/** Cedar namespace of every Custodian entity type and action. */
export const CEDAR_NAMESPACE = 'Custodian';

/** Actions a policy can speak about. */
export const POLICY_ACTIONS = ['transfer', 'contract-call', 'approve-token', 'sign-message', 'wallet-create', 'policy-change', 'break-glass'] as const;

/** One Cedar action of the Custodian schema. */
export type PolicyAction = (typeof POLICY_ACTIONS)[number];

/** Actions whose context is derived from a transaction (`TxContext`). */
export const TX_ACTIONS: readonly PolicyAction[] = ['transfer', 'contract-call', 'approve-token'];

/** The schema in Cedar's human-readable schema syntax. */
export const CUSTODIAN_SCHEMA = `namespace Custodian {
  entity Group;
  entity Operator in [Group];
  entity WalletGroup in [WalletGroup];
  entity Wallet in [WalletGroup];

  // An amount: base units as a decimal string (up to 2^256 - 1, beyond Cedar's
  // 64-bit Long), and its value in minor units of the reference currency
  // (e.g. US cents), saturated at 2^53 - 1; priced is false when no price applies.
  type Amount = { baseUnits: String, valueMinor: Long, priced: Bool };

  // An address as the address book and the screening list see it.
  type Party = {
    address: String,
    listed: Bool,
    name: String,
    labels: Set<String>,
    firstTime: Bool,
    sanctioned: Bool
  };

  // delegatecallAllowed: every delegatecall target carries the address-book
  // label "delegatecall-allowed" (true when there is no delegatecall).
  type Call = {
    kind: String,
    method: String,
    known: Bool,
    target: Party,
    delegatecall: Bool,
    delegatecallAllowed: Bool,
    privileged: Bool,
    unlimitedApproval: Bool,
    movements: Long
  };

  // Bitcoin spends only. change = outputs paying the wallet's own P2TR key
  // (not counted in amount or destination); vsize of the signed transaction
  // (key-path witnesses) and the fee rate in sat/vB rounded up.
  type BitcoinFacts = {
    inputs: Long,
    outputs: Long,
    changeOutputs: Long,
    changeSat: String,
    vsize: Long,
    feeRateSatPerVb: Long
  };

  // Solana messages only. version: "legacy" or "v0"; durableNonce: the
  // message advances a (intended) durable nonce instead of a recent
  // blockhash; createsTokenAccount: it creates an associated token account
  // (paid by the wallet, rent included in fee).
  type SolanaFacts = {
    version: String,
    durableNonce: Bool,
    createsTokenAccount: Bool,
    instructions: Long
  };

  // family: "evm", "solana" or "bitcoin". chainId is the EVM chain id (0 on
  // other families); chainIdConfigured: the wallet is configured for this
  // chain (EVM: its chain id; Solana and Bitcoin: the rulebook chain name).
  type TxContext = {
    chain: String,
    family: String,
    chainId: Long,
    chainIdConfigured: Bool,
    asset: String,
    assetSymbol: String,
    amount: Amount,
    destination: Party,
    call: Call,
    fee: Amount,
    initiator: String,
    bitcoin?: BitcoinFacts,
    solana?: SolanaFacts
  };

  type MessageContext = { chain: String, kind: String };
  type WalletContext = { chain: String };
  type ChangeContext = { document: String, version: String };
  type EmergencyContext = { operation: String };

  action transfer, "contract-call", "approve-token"
    appliesTo { principal: [Operator], resource: [Wallet], context: TxContext };
  action "sign-message"
    appliesTo { principal: [Operator], resource: [Wallet], context: MessageContext };
  action "wallet-create"
    appliesTo { principal: [Operator], resource: [WalletGroup], context: WalletContext };
  action "policy-change"
    appliesTo { principal: [Operator], resource: [WalletGroup], context: ChangeContext };
  action "break-glass"
    appliesTo { principal: [Operator], resource: [Wallet, WalletGroup], context: EmergencyContext };
}
`;
