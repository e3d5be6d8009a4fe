/** Named limits for the CBOR decoder; callers may pass tighter ones. */

/** Largest CBOR document decoded unless the caller passes a smaller bound. */
export const CBOR_BYTES_MAX = 1024 * 1024;
/** Deepest nesting of arrays, maps and tags (B03: cap well below the JS stack). */
export const CBOR_DEPTH_MAX = 64;
/** Most items (array elements plus map entries) in one document. */
export const CBOR_ITEMS_MAX = 65_536;
