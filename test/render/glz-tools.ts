// GLZ test tools: a stream scanner (lists the literal runs and references of a GLZ pass, to
// assert what a captured fixture exercises) and a small GLZ writer for synthetic streams
// (written from the format description in the digest §4.6 and src/render/codecs/glz.ts).
// Not a test file itself.

import assert from 'node:assert/strict';

export interface GlzRef { len: number; dist: number; ofs: number }
export interface GlzScan { literals: number; intra: GlzRef[]; cross: GlzRef[]; end: number }

/**
 * Walks one pass of `units` units from data[ip]; `bias` 0 (RGB32/24), 1 (RGB16), 2 (palette,
 * alpha); `litBytes` bytes per literal unit. Lengths/offsets are in units, bias applied.
 */
export function scanGlzPass(data: Uint8Array, ip: number, units: number, bias: number, litBytes: number): GlzScan {
  const res: GlzScan = { literals: 0, intra: [], cross: [], end: 0 };
  let op = 0;
  while (op < units) {
    const ctrl = data[ip++]!;
    if (ctrl < 32) {
      res.literals += ctrl + 1;
      op += ctrl + 1;
      ip += (ctrl + 1) * litBytes;
      continue;
    }
    let len = ctrl >> 5;
    let flag = (ctrl >> 4) & 1;
    let ofs = ctrl & 15;
    if (len === 7) {
      let b: number;
      do { b = data[ip++]!; len += b; } while (b === 255);
    }
    ofs += data[ip++]! << 4;
    const c = data[ip++]!;
    const n = c >> 6;
    let dist = 0;
    if (!flag) {
      dist = c & 63;
      for (let k = 0; k < n; k++) dist += data[ip++]! * 2 ** (6 + 8 * k);
    } else {
      flag = (c >> 5) & 1;
      ofs += (c & 31) << 12;
      for (let k = 0; k < n; k++) dist += data[ip++]! << (8 * k);
      if (flag) ofs += data[ip++]! << 17;
    }
    len += bias;
    if (dist === 0) {
      ofs += 1;
      res.intra.push({ len, dist, ofs });
    } else {
      res.cross.push({ len, dist, ofs });
    }
    op += len;
  }
  res.end = ip;
  return res;
}

/** GLZ header: type, top_down, width, height, stride, id, win_head_dist. */
export function glzHeader(type: number, topDown: boolean, width: number, height: number, stride: number, id: bigint, winHeadDist: number): number[] {
  const b = Buffer.alloc(33);
  b.writeUInt32BE(0x20205a4c, 0);
  b.writeUInt32BE(0x00010001, 4);
  b[8] = (type & 15) | (topDown ? 16 : 0);
  b.writeUInt32BE(width, 9);
  b.writeUInt32BE(height, 13);
  b.writeUInt32BE(stride, 17);
  b.writeBigUInt64BE(id, 21);
  b.writeUInt32BE(winHeadDist, 29);
  return [...b];
}

/** A literal run (1..32 units) of the given unit bytes. */
export function glzLiterals(units: number[][]): number[] {
  assert.ok(units.length >= 1 && units.length <= 32);
  return [units.length - 1, ...units.flat()];
}

/**
 * A reference of `len` units (bias already removed by the caller: pass the encoded L >= 1).
 * dist 0: `back` units back (>= 1); otherwise pixel offset `back` of image id - dist.
 * Uses the short form when it fits, else the long form (with the extra offset byte if needed).
 */
export function glzRef(L: number, dist: number, back: number, forceLong = false): number[] {
  assert.ok(L >= 1);
  const ofs = dist === 0 ? back - 1 : back;
  assert.ok(ofs >= 0 && ofs < 2 ** 25);
  const hi = Math.min(L, 7);
  const ext: number[] = [];
  if (L >= 7) {
    let rem = L - 7;
    while (rem >= 255) { ext.push(255); rem -= 255; }
    ext.push(rem);
  }
  const short = !forceLong && ofs < 4096 && dist < 2 ** 30;
  if (short) {
    const extra = dist < 64 ? 0 : dist < 2 ** 14 ? 1 : dist < 2 ** 22 ? 2 : 3;
    const out = [(hi << 5) | (ofs & 15), ...ext, (ofs >> 4) & 255, (extra << 6) | (dist & 63)];
    for (let k = 0; k < extra; k++) out.push(Math.floor(dist / 2 ** (6 + 8 * k)) & 255);
    return out;
  }
  assert.ok(dist < 2 ** 24);
  const extra = dist === 0 ? 0 : dist < 256 ? 1 : dist < 65536 ? 2 : 3;
  const veryLong = ofs >= 2 ** 17;
  const out = [(hi << 5) | 16 | (ofs & 15), ...ext, (ofs >> 4) & 255, (extra << 6) | (veryLong ? 32 : 0) | ((ofs >> 12) & 31)];
  for (let k = 0; k < extra; k++) out.push((dist >> (8 * k)) & 255);
  if (veryLong) out.push((ofs >> 17) & 255);
  return out;
}
