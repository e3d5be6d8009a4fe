/**
 * Named limits of the audit log. Untrusted notes, proofs, tiles and entries
 * are bounded by these before they are parsed (STYLE.md: every limit named).
 */

/** SHA-256 output size; every tree hash has this length. */
export const HASH_BYTES = 32;
/** Largest tree size handled: 2^53 - 1 keeps indices exact in a JS number. */
export const TREE_SIZE_MAX = Number.MAX_SAFE_INTEGER;
/** Most hashes in one inclusion or consistency proof (2 * 64 covers any tree). */
export const PROOF_HASHES_MAX = 128;
/** Largest signed note accepted (Go's sumdb/note caps notes similarly small). */
export const NOTE_BYTES_MAX = 64 * 1024;
/** Most signature lines in one signed note (golang.org/x/mod/sumdb/note: 100). */
export const NOTE_SIGNATURES_MAX = 100;
/** Longest key or origin name accepted. */
export const NOTE_NAME_CHARS_MAX = 256;
/** Most checkpoint extension lines accepted. */
export const CHECKPOINT_EXTENSIONS_MAX = 16;
/** C2SP tlog-tiles: entries are length-prefixed with a big-endian uint16. */
export const ENTRY_BYTES_MAX = 0xffff;
/** C2SP tlog-tiles: a full tile holds 2^8 hashes (or entries). */
export const TILE_WIDTH = 256;
/** C2SP tlog-tiles: a tile spans 8 tree levels. */
export const TILE_HEIGHT = 8;
/** Largest hash tile file: TILE_WIDTH hashes. */
export const TILE_BYTES_MAX = TILE_WIDTH * HASH_BYTES;
/** Largest entry bundle: TILE_WIDTH entries of ENTRY_BYTES_MAX plus prefixes. */
export const ENTRY_BUNDLE_BYTES_MAX = TILE_WIDTH * (ENTRY_BYTES_MAX + 2);
/** Most entries accepted in one append batch (one checkpoint per batch). */
export const APPEND_BATCH_MAX = 4096;
/** Most witnesses or log keys in one checkpoint policy. */
export const POLICY_KEYS_MAX = 64;
