// Test helpers for the render tests: a tiny SPICE LZ encoder, image/message builders and
// assertions. Not a test file itself.

import assert from 'node:assert/strict';
import { ProtocolError } from '../../src/util/errors.js';
import type { DecodedImage } from '../../src/render/types.js';

/** Asserts that fn throws a ProtocolError (and not a RangeError/TypeError/...). */
export function throwsProtocol(fn: () => unknown, match?: RegExp): void {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  assert.ok(err !== undefined, 'expected a ProtocolError, nothing was thrown');
  assert.ok(err instanceof ProtocolError, `expected a ProtocolError, got ${(err as Error)?.name}: ${(err as Error)?.message}`);
  assert.ok(!(err as Error).message.includes('\n'), 'error message must be one line');
  if (match) assert.match((err as Error).message, match);
}

/** Runs fn; it must either return or throw a ProtocolError. */
export function decodesOrProtocolError(fn: () => unknown): void {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof ProtocolError, `expected a ProtocolError, got ${(e as Error)?.name}: ${(e as Error)?.message}`);
  }
}

/** Deterministic pseudo-random generator (xorshift32). */
export function rng(seed = 0x12345678): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13; s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5; s >>>= 0;
    return s / 0x100000000;
  };
}

/** Builds a DecodedImage from [b,g,r,a] tuples in top-down order. */
export function imageOf(width: number, height: number, px: number[][], hasAlpha = false): DecodedImage {
  const data = Buffer.alloc(width * height * 4);
  px.forEach((p, i) => data.set(p, i * 4));
  return { width, height, data, hasAlpha };
}

/** Pixel i of an image as [b,g,r,a]. */
export function pixel(data: Buffer, i: number): number[] {
  return [...data.subarray(i * 4, i * 4 + 4)];
}

// ---------------------------------------------------------------------------------------------
// SPICE LZ encoder (literal runs + back-references, near and far offsets). Written from the
// format description in the digest §4.6, used only to produce test fixtures.

export type LzUnitKind = 'rgb32' | 'rgb16' | 'alpha' | 'byte';
const BIAS: Record<LzUnitKind, number> = { rgb32: 0, rgb16: 1, alpha: 2, byte: 2 };
const MAX_FAR = 65535 + 8191 + 1; // largest distance the far form can express

export interface LzEncodeOptions {
  /** Only consider matches at least this far back (to force far offsets in tests). */
  minDistance?: number;
  /** Disable matches altogether (literals only). */
  literalsOnly?: boolean;
}

/**
 * Encodes units (keys: numbers compared for matches) with literal bytes from lit(i).
 * Returns the body bytes of one LZ pass.
 */
export function lzEncodePass(keys: ArrayLike<number>, lit: (i: number) => number[], kind: LzUnitKind,
                             opts: LzEncodeOptions = {}): number[] {
  const out: number[] = [];
  const n = keys.length;
  const bias = BIAS[kind];
  const minLen = Math.max(2, bias + 1);
  const minDist = opts.minDistance ?? 1;
  const last = new Map<string, number[]>();
  let pending: number[] = []; // literal unit indexes
  const flush = (): void => {
    while (pending.length) {
      const chunk = pending.splice(0, 32);
      out.push(chunk.length - 1);
      for (const i of chunk) for (const b of lit(i)) out.push(b);
    }
  };
  const keyAt = (i: number): string => `${keys[i]},${keys[i + 1]},${keys[i + 2]}`;
  const remember = (i: number): void => {
    if (i + 2 >= n) return;
    const k = keyAt(i);
    const list = last.get(k) ?? [];
    list.push(i);
    if (list.length > 8) list.shift();
    last.set(k, list);
  };
  let i = 0;
  while (i < n) {
    let bestLen = 0;
    let bestDist = 0;
    if (!opts.literalsOnly) {
      const cands = new Set<number>();
      if (minDist <= 1 && i > 0) cands.add(i - 1);
      if (i + 2 < n) for (const c of last.get(keyAt(i)) ?? []) cands.add(c);
      for (const c of cands) {
        const dist = i - c;
        if (dist < minDist || dist > MAX_FAR) continue;
        let len = 0;
        while (i + len < n && keys[c + len] === keys[i + len] && len < 2000) len++;
        if (len > bestLen) { bestLen = len; bestDist = dist; }
      }
    }
    if (bestLen >= minLen) {
      flush();
      emitMatch(out, bestLen - bias, bestDist);
      for (let k = 0; k < bestLen; k++) remember(i + k);
      i += bestLen;
    } else {
      pending.push(i);
      remember(i);
      i++;
    }
  }
  flush();
  return out;
}

/** Emits a match: L = units - bias (>= 1), distance >= 1 units back. */
export function emitMatch(out: number[], L: number, distance: number): void {
  assert.ok(L >= 1 && distance >= 1 && distance <= MAX_FAR);
  const biased = distance - 1;
  const hi = Math.min(L, 7);
  const ext: number[] = [];
  if (L >= 7) {
    let rem = L - 7;
    while (rem >= 255) { ext.push(255); rem -= 255; }
    ext.push(rem);
  }
  if (biased < 8191) {
    out.push((hi << 5) | (biased >> 8), ...ext, biased & 255);
  } else {
    const f = biased - 8191;
    out.push((hi << 5) | 31, ...ext, 255, f >> 8, f & 255);
  }
}

export function lzHeader(type: number, width: number, height: number, stride: number, topDown: boolean): number[] {
  const h = Buffer.alloc(28);
  [0x20205a4c, 0x00010001, type, width, height, stride, topDown ? 1 : 0].forEach((v, k) => h.writeUInt32BE(v, k * 4));
  return [...h];
}

/** Rows of a top-down list in stream order (bottom-up unless topDown). */
function streamOrder<T>(rows: T[][], topDown: boolean): T[] {
  return (topDown ? rows : [...rows].reverse()).flat();
}

function rowsOf<T>(items: T[], width: number): T[][] {
  const rows: T[][] = [];
  for (let i = 0; i < items.length; i += width) rows.push(items.slice(i, i + width));
  return rows;
}

/** LZ stream of RGB32/RGB24/RGBA/XXXA type from top-down [b,g,r,a] pixels. */
export function lzEncodeRgb(type: 7 | 8 | 9 | 10, width: number, height: number, px: number[][], topDown = true,
                            opts: LzEncodeOptions = {}): Buffer {
  const s = streamOrder(rowsOf(px, width), topDown);
  const body: number[] = [];
  if (type !== 10) {
    const keys = s.map((p) => (p[2]! << 16) | (p[1]! << 8) | p[0]!);
    for (const b of lzEncodePass(keys, (i) => [s[i]![0]!, s[i]![1]!, s[i]![2]!], 'rgb32', opts)) body.push(b);
  }
  if (type === 9 || type === 10) {
    const keys = s.map((p) => p[3]!);
    for (const b of lzEncodePass(keys, (i) => [s[i]![3]!], 'alpha', opts)) body.push(b);
  }
  return Buffer.concat([Buffer.from(lzHeader(type, width, height, width * (type === 7 ? 3 : 4), topDown)), Buffer.from(body)]);
}

/** LZ stream of RGB16 type from top-down x555 values. */
export function lzEncodeRgb16(width: number, height: number, vals: number[], topDown = true, opts: LzEncodeOptions = {}): Buffer {
  const s = streamOrder(rowsOf(vals, width), topDown);
  const body = lzEncodePass(s, (i) => [s[i]! >> 8, s[i]! & 255], 'rgb16', opts);
  return Buffer.concat([Buffer.from(lzHeader(6, width, height, width * 2, topDown)), Buffer.from(body)]);
}

/** LZ stream of a byte type (PLT*, A8) from top-down rows of bytes (each row `stride` bytes). */
export function lzEncodeBytes(type: number, width: number, height: number, stride: number, bytes: number[],
                              topDown = true, opts: LzEncodeOptions = {}): Buffer {
  const s = streamOrder(rowsOf(bytes, stride), topDown);
  const body = lzEncodePass(s, (i) => [s[i]!], 'byte', opts);
  return Buffer.concat([Buffer.from(lzHeader(type, width, height, stride, topDown)), Buffer.from(body)]);
}

// ---------------------------------------------------------------------------------------------
// SpiceImage builders (little-endian, as on the wire).

export function u8(v: number): number[] { return [v & 255]; }
export function u16(v: number): number[] { const b = Buffer.alloc(2); b.writeUInt16LE(v); return [...b]; }
export function u32(v: number): number[] { const b = Buffer.alloc(4); b.writeUInt32LE(v >>> 0); return [...b]; }
export function u64(v: bigint): number[] { const b = Buffer.alloc(8); b.writeBigUInt64LE(v); return [...b]; }

export function descriptor(id: bigint, type: number, flags: number, width: number, height: number): number[] {
  return [...u64(id), type, flags, ...u32(width), ...u32(height)];
}

export function paletteBytes(unique: bigint, ents: number[]): number[] {
  return [...u64(unique), ...u16(ents.length), ...ents.flatMap((e) => u32(e))];
}
