// Ternary raster operations (DRAW_ROP3) and the binary ROPs of a ROP descriptor, as bitwise
// functions on 32-bit pixel words. A rop3 code is a truth table: for pattern bit P, source bit S
// and destination bit D, the result bit is bit (P<<2 | S<<1 | D) of the code (the Windows
// convention that spice-common rop3.c implements, e.g. 0xCC = SRCCOPY, 0xF0 = PATCOPY,
// 0xAA = keep dest, 0x66 = S xor D, 0x5A = P xor D). Pure functions.

import { Ropd } from './types.js';

/** (pattern, source, dest) -> result, all raw 32-bit words (the caller fixes alpha). */
export type Rop3Fn = (p: number, s: number, d: number) => number;

const cache = new Map<number, Rop3Fn>();

/**
 * The bitwise function of a rop3 code (0-255). Common codes get a direct form; every other code
 * is evaluated as the OR of its minterms, which is exact for all 256.
 */
export function rop3Function(code: number): Rop3Fn {
  code &= 0xff;
  const hit = cache.get(code);
  if (hit) return hit;
  let f: Rop3Fn;
  switch (code) {
    case 0x00: f = () => 0; break;
    case 0xff: f = () => -1; break;
    case 0xaa: f = (_p, _s, d) => d; break;
    case 0x55: f = (_p, _s, d) => ~d; break;
    case 0xcc: f = (_p, s) => s; break;
    case 0x33: f = (_p, s) => ~s; break;
    case 0xf0: f = (p) => p; break;
    case 0x0f: f = (p) => ~p; break;
    case 0x66: f = (_p, s, d) => s ^ d; break;
    case 0x88: f = (_p, s, d) => s & d; break;
    case 0xee: f = (_p, s, d) => s | d; break;
    case 0x5a: f = (p, _s, d) => p ^ d; break;
    case 0xa0: f = (p, _s, d) => p & d; break;
    case 0xfa: f = (p, _s, d) => p | d; break;
    case 0xc0: f = (p, s) => p & s; break;
    case 0xb8: f = (p, s, d) => ((d ^ p) & s) ^ p; break; // PSDPxax
    case 0xe2: f = (p, s, d) => ((p ^ d) & s) ^ d; break; // DSPDxax
    default: {
      const terms: number[] = [];
      for (let k = 0; k < 8; k++) if (code & (1 << k)) terms.push(k);
      f = (p, s, d) => {
        let r = 0;
        for (const k of terms) r |= (k & 4 ? p : ~p) & (k & 2 ? s : ~s) & (k & 1 ? d : ~d);
        return r;
      };
    }
  }
  cache.set(code, f);
  return f;
}

/** Evaluates a rop3 code on three 8-bit values (0xF0 pattern, 0xCC source, 0xAA dest gives the code back). */
export function rop3Byte(code: number, p: number, s: number, d: number): number {
  return rop3Function(code)(p, s, d) & 0xff;
}

/**
 * The rop3 code equivalent to a ROP descriptor whose "source" operand is src (S for images, P for
 * brushes) and whose destination is D. Mirrors canvas_base.c ropd_descriptor_to_rop: the op bit
 * picks PUT/OR/AND/XOR (or BLACKNESS/WHITENESS/INVERS), then INVERS_RES/SRC/DEST negate.
 */
export function ropdToRop3(desc: number, srcIsBrush: boolean, invertSrc: boolean): number {
  const S = srcIsBrush ? 0xf0 : 0xcc;
  const D = 0xaa;
  const s = invertSrc ? ~S & 0xff : S;
  const d = desc & Ropd.INVERS_DEST ? ~D & 0xff : D;
  let r: number;
  if (desc & Ropd.OP_PUT) r = s;
  else if (desc & Ropd.OP_OR) r = s | d;
  else if (desc & Ropd.OP_AND) r = s & d;
  else if (desc & Ropd.OP_XOR) r = s ^ d;
  else if (desc & Ropd.OP_BLACKNESS) return 0x00;
  else if (desc & Ropd.OP_WHITENESS) return 0xff;
  else if (desc & Ropd.OP_INVERS) return 0x55;
  else r = S; // no op bit: spice treats it as a copy
  if (desc & Ropd.INVERS_RES) r = ~r;
  return r & 0xff;
}
