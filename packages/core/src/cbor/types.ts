/**
 * Typed CBOR values (RFC 8949) as Custodian's decoder returns them: integers
 * as `number` when safe and `bigint` otherwise, byte strings as `Uint8Array`,
 * text as `string`, arrays as read-only arrays, maps as `CborMap` (keys keep
 * their order and type), tags as `CborTag`, floats as `CborFloat` (so a float
 * is never mistaken for an integer), and the simple values false, true, null
 * and undefined as themselves.
 */

/** Any decoded CBOR data item. */
export type CborValue =
  | number
  | bigint
  | Uint8Array
  | string
  | boolean
  | null
  | undefined
  | readonly CborValue[]
  | CborMap
  | CborTag
  | CborFloat
  | CborSimple;

/** A map with its entries in encoded order; keys are any CBOR value. */
export class CborMap {
  readonly #entries: readonly (readonly [CborValue, CborValue])[];

  constructor(entries: readonly (readonly [CborValue, CborValue])[]) {
    this.#entries = Object.freeze(entries.map((e) => Object.freeze([e[0], e[1]] as const)));
    Object.freeze(this);
  }

  /** The entries in encoded order. */
  get entries(): readonly (readonly [CborValue, CborValue])[] {
    return this.#entries;
  }

  /** Number of entries. */
  get size(): number {
    return this.#entries.length;
  }

  /** The value for an integer or text key (maps are duplicate-free by construction of the decoder). */
  get(key: number | string): CborValue | undefined {
    for (const [k, v] of this.#entries) if (k === key) return v;
    return undefined;
  }

  /** True when an integer or text key is present. */
  has(key: number | string): boolean {
    return this.#entries.some(([k]) => k === key);
  }
}

/** A tagged data item (major type 6). */
export class CborTag {
  constructor(
    readonly tag: number | bigint,
    readonly value: CborValue,
  ) {
    Object.freeze(this);
  }
}

/** A floating-point number (major type 7, additional info 25–27). */
export class CborFloat {
  constructor(readonly value: number) {
    Object.freeze(this);
  }
}

/** An unassigned simple value (major type 7) other than false/true/null/undefined. */
export class CborSimple {
  constructor(readonly value: number) {
    Object.freeze(this);
  }
}
