// DRAW_STROKE paths -> pixel runs (semantics of spice-common canvas_base.c canvas_draw_stroke and
// the X server's zero-width line code it embeds, common/lines.c miZeroLine). Pure: no surfaces.
//
// What the reference does, and this code too:
// * Points are fixed 28.4 and rounded to integers first (x >> 4, plus one when the fraction > 8/16).
// * Beziers are flattened by recursive midpoint subdivision until both control points deviate
//   less than about half a pixel from the chord (64-bit integer tests, done here with BigInt);
//   the start point of a bezier is the previous, already rounded, point.
// * Lines are cosmetic, one pixel wide, endpoint-exclusive (CapNotLast) Bresenham lines with the
//   X server's default tie-breaking bias; each line segment is filled on its own, so a pixel shared
//   by two segments of a polyline is painted twice (matters for XOR).
// * A segment with BEGIN starts a new polyline; END draws it, CLOSE first returns to its start.
// * Styled (dashed) lines use on/off dashes along the same pixels: an approximation of the
//   reference's wide-dash code, reported by the caller.

import type { Rect } from './types.js';

export interface PathSegmentLike { flags: number; points: Int32Array }
export interface StrokeResult {
  /** One list of disjoint one-row runs per line segment, in drawing order. */
  segments: Rect[][];
  /** true when something was simplified (dashes, point budget, coordinates out of range). */
  approximate: boolean;
}

const PATH_BEGIN = 1;
const PATH_END = 2;
const PATH_CLOSE = 8;
const PATH_BEZIER = 16;
const LINE_START_WITH_GAP = 4;
const LINE_STYLED = 8;

/** X's DEFAULTZEROLINEBIAS: octants 2-5 prefer the axial step on a zero error term. */
const ZERO_LINE_BIAS = (1 << 3) | (1 << 7) | (1 << 6) | (1 << 4);
const XDECREASING = 4;
const YDECREASING = 2;
const YMAJOR = 1;

/** Coordinates beyond this are not drawn (keeps the closed-form Bresenham exact in doubles). */
const MAX_COORD = 1 << 24;
/** Flattened points per stroke before we stop subdividing. */
const MAX_POINTS = 1 << 20;
/** Longest segment we dash pixel by pixel; longer ones are drawn solid. */
const MAX_DASHED = 1 << 22;

/** fixed 28.4 -> int, rounding as canvas_base.c fix_to_int does (a fraction of exactly 8/16 rounds down). */
export function fixToInt(v: number): number {
  return (v >> 4) + ((v & 15) > 8 ? 1 : 0);
}

interface Pt { x: number; y: number }

/**
 * Pixels of one zero-width line from (x1,y1) towards (x2,y2), endpoint excluded, clipped to
 * [0,w) x [0,h), as runs. Uses the closed form of the Bresenham loop, so off-surface parts cost
 * nothing: minor offset after i steps = floor((e0 + i*e1) / (2*major)) + 1, e0 = -major - bias.
 */
export function zeroLine(x1: number, y1: number, x2: number, y2: number, w: number, h: number,
                         emit: (x: number, y: number, n: number) => void): void {
  let octant = 0;
  let adx = x2 - x1, ady = y2 - y1;
  let sx = 1, sy = 1;
  if (adx < 0) { adx = -adx; sx = -1; octant |= XDECREASING; }
  if (ady < 0) { ady = -ady; sy = -1; octant |= YDECREASING; }
  const xMajor = adx > ady;
  if (!xMajor) octant |= YMAJOR;
  const major = xMajor ? adx : ady;
  const minor = xMajor ? ady : adx;
  if (major === 0) return; // a point: CapNotLast draws nothing
  const fix = (ZERO_LINE_BIAS >> octant) & 1;
  const e0 = -major - fix;
  const e1 = 2 * minor;
  const twoMajor = 2 * major;
  // major-axis range inside the surface
  const m1 = xMajor ? x1 : y1;
  const sm = xMajor ? sx : sy;
  const limit = xMajor ? w : h;
  let iStart: number, iEnd: number;
  if (sm > 0) { iStart = Math.max(0, -m1); iEnd = Math.min(major, limit - m1); }
  else { iStart = Math.max(0, m1 - limit + 1); iEnd = Math.min(major, m1 + 1); }
  const n1 = xMajor ? y1 : x1;
  const sn = xMajor ? sy : sx;
  let runX = 0, runY = 0, runN = 0;
  for (let i = iStart; i < iEnd; i++) {
    const F = e0 + i * e1;
    const steps = F < 0 ? 0 : Math.floor(F / twoMajor) + 1;
    const a = m1 + sm * i;
    const b = n1 + sn * steps;
    const x = xMajor ? a : b;
    const y = xMajor ? b : a;
    if (y < 0 || y >= h || x < 0 || x >= w) {
      // off the surface on the minor axis: end the current run
      if (runN) { emit(runX, runY, runN); runN = 0; }
      continue;
    }
    if (runN && y === runY && (x === runX + runN || x === runX - 1)) {
      if (x === runX - 1) runX = x;
      runN++;
      continue;
    }
    if (runN) emit(runX, runY, runN);
    runX = x; runY = y; runN = 1;
  }
  if (runN) emit(runX, runY, runN);
}

/** Bezier flattening exactly as canvas_base.c subdivide_bezier (BigInt for its 64-bit products). */
function subdivide(out: Pt[], p0: Pt, p1: Pt, p2: Pt, p3: Pt, depth: number, budget: { left: number }): void {
  const B = BigInt;
  const dot = (x1: number, y1: number, x2: number, y2: number) => (B(x1) * B(x2) + B(y1) * B(y2)) >> 4n;
  const A2 = dot(p1.x - p0.x, p1.y - p0.y, p1.x - p0.x, p1.y - p0.y);
  const B2 = dot(p3.x - p0.x, p3.y - p0.y, p3.x - p0.x, p3.y - p0.y);
  const C2 = dot(p2.x - p3.x, p2.y - p3.y, p2.x - p3.x, p2.y - p3.y);
  const AB = dot(p1.x - p0.x, p1.y - p0.y, p3.x - p0.x, p3.y - p0.y);
  const CB = dot(p2.x - p3.x, p2.y - p3.y, p0.x - p3.x, p0.y - p3.y);
  const h1 = (A2 * B2 - AB * AB) >> 3n;
  const h2 = (C2 * B2 - CB * CB) >> 3n;
  if ((h1 < B2 && h2 < B2) || depth >= 24 || budget.left <= 0) {
    out.push({ x: fixToInt(p3.x), y: fixToInt(p3.y) });
    budget.left--;
    return;
  }
  const mid = (a: Pt, b: Pt): Pt => ({ x: Math.trunc((a.x + b.x) / 2), y: Math.trunc((a.y + b.y) / 2) });
  const p01 = mid(p0, p1), p12 = mid(p1, p2), p23 = mid(p2, p3);
  const p012 = mid(p01, p12), p123 = mid(p12, p23);
  const p0123 = mid(p012, p123);
  subdivide(out, p0, p01, p012, p0123, depth + 1, budget);
  subdivide(out, p0123, p123, p23, p3, depth + 1, budget);
}

/** Dash state carried along one polyline: on/off lengths in pixels, current index and remaining length. */
interface Dash { list: number[]; idx: number; left: number }

function makeDash(flags: number, style: Int32Array | null): Dash | null {
  if (!(flags & LINE_STYLED) || !style || style.length === 0) return null;
  const s = Array.from(style, fixToInt);
  let list: number[];
  let offset = 0;
  if (flags & LINE_START_WITH_GAP) {
    list = [...s.slice(1), s[0]!];
    offset = list[0]!;
  } else list = s;
  if (list.every((v) => v <= 0)) return null;
  list = list.map((v) => Math.max(0, v));
  const d: Dash = { list, idx: 0, left: list[0]! };
  advanceDash(d, offset);
  return d;
}

function advanceDash(d: Dash, n: number): void {
  while (n > 0 || d.left === 0) {
    if (d.left === 0) { d.idx = (d.idx + 1) % d.list.length; d.left = d.list[d.idx]!; continue; }
    const k = Math.min(n, d.left);
    d.left -= k;
    n -= k;
  }
}

/**
 * Flattens a path into pixel runs on a width x height surface. lineFlags/style come from the
 * LineAttr (STYLED + START_WITH_GAP + fixed 28.4 dash lengths).
 */
export function strokePath(path: readonly PathSegmentLike[], lineFlags: number, style: Int32Array | null,
                           width: number, height: number): StrokeResult {
  const segments: Rect[][] = [];
  let approximate = false;
  const dash0 = makeDash(lineFlags, style);
  if (dash0) approximate = true;
  const budget = { left: MAX_POINTS };
  let pts: Pt[] = [];

  const draw = (): void => {
    if (pts.length === 0) return;
    const dash = dash0 ? { ...dash0 } : null;
    for (let k = 0; k + 1 < pts.length; k++) {
      const a = pts[k]!, b = pts[k + 1]!;
      if ([a.x, a.y, b.x, b.y].some((v) => Math.abs(v) > MAX_COORD)) { approximate = true; continue; }
      const dashed = dash && Math.max(Math.abs(b.x - a.x), Math.abs(b.y - a.y)) <= MAX_DASHED;
      const runs: Rect[] = [];
      if (!dashed || !dash) {
        if (dash) approximate = true;
        zeroLine(a.x, a.y, b.x, b.y, width, height, (x, y, n) => runs.push({ top: y, bottom: y + 1, left: x, right: x + n }));
      } else {
        // pixel i of a segment lies at major-axis offset i: decide on/off per index, keep the phase
        const xMajor = Math.abs(b.x - a.x) > Math.abs(b.y - a.y);
        const len = Math.max(Math.abs(b.x - a.x), Math.abs(b.y - a.y));
        const onIdx = new Uint8Array(len);
        for (let i = 0; i < len; i++) {
          onIdx[i] = dash.idx % 2 === 0 ? 1 : 0;
          advanceDash(dash, 1);
        }
        zeroLine(a.x, a.y, b.x, b.y, width, height, (x, y, n) => {
          for (let j = 0; j < n; j++) {
            const px = x + j;
            if (onIdx[xMajor ? Math.abs(px - a.x) : Math.abs(y - a.y)]) runs.push({ top: y, bottom: y + 1, left: px, right: px + 1 });
          }
        });
      }
      if (runs.length) segments.push(runs);
    }
    pts = [];
  };

  for (const seg of path) {
    const p = seg.points;
    const n = p.length >> 1;
    let i = 0;
    if (seg.flags & PATH_BEGIN) {
      draw();
      if (n > 0) { pts.push({ x: fixToInt(p[0]!), y: fixToInt(p[1]!) }); i = 1; }
    }
    if (seg.flags & PATH_BEZIER) {
      if ((n - i) % 3 !== 0) approximate = true;
      for (; i + 2 < n; i += 3) {
        if (pts.length === 0) { approximate = true; pts.push({ x: fixToInt(p[i * 2]!), y: fixToInt(p[i * 2 + 1]!) }); continue; }
        const last = pts[pts.length - 1]!;
        const p0 = { x: last.x << 4, y: last.y << 4 };
        subdivide(pts, p0, { x: p[i * 2]!, y: p[i * 2 + 1]! }, { x: p[i * 2 + 2]!, y: p[i * 2 + 3]! },
          { x: p[i * 2 + 4]!, y: p[i * 2 + 5]! }, 0, budget);
      }
    } else {
      for (; i < n; i++) {
        if (budget.left-- <= 0) { approximate = true; break; }
        pts.push({ x: fixToInt(p[i * 2]!), y: fixToInt(p[i * 2 + 1]!) });
      }
    }
    if (seg.flags & PATH_END) {
      if (seg.flags & PATH_CLOSE && pts.length) pts.push({ ...pts[0]! });
      draw();
    }
  }
  draw();
  if (budget.left <= 0) approximate = true;
  return { segments, approximate };
}
