// Rectangle arithmetic for draw ops: clamp a destination box to the surface, intersect it with the
// clip list and return disjoint rectangles (so ROPs such as XOR never touch a pixel twice).

import type { Clip, Rect } from './types.js';

function finite(r: Rect): boolean {
  return Number.isFinite(r.top) && Number.isFinite(r.left) && Number.isFinite(r.bottom) && Number.isFinite(r.right);
}

/** Intersection of a and b, or null when empty (also for inverted or non-finite rects). */
export function intersect(a: Rect, b: Rect): Rect | null {
  if (!finite(a) || !finite(b)) return null;
  const top = Math.max(a.top, b.top);
  const left = Math.max(a.left, b.left);
  const bottom = Math.min(a.bottom, b.bottom);
  const right = Math.min(a.right, b.right);
  if (bottom <= top || right <= left) return null;
  return { top, left, bottom, right };
}

export function isEmpty(r: Rect): boolean {
  return !finite(r) || r.bottom <= r.top || r.right <= r.left;
}

function disjoint(a: Rect, b: Rect): boolean {
  return a.right <= b.left || b.right <= a.left || a.bottom <= b.top || b.bottom <= a.top;
}

/**
 * The drawable part of box on a width x height surface: box ∩ bounds ∩ (union of clip rects),
 * as disjoint rects with integer coordinates. Never throws.
 */
export function drawRects(box: Rect, clip: Clip, width: number, height: number): Rect[] {
  const bounds: Rect = { top: 0, left: 0, bottom: height, right: width };
  const base = intersect(box, bounds);
  if (!base) return [];
  const b: Rect = {
    top: Math.ceil(base.top), left: Math.ceil(base.left),
    bottom: Math.floor(base.bottom), right: Math.floor(base.right),
  };
  if (isEmpty(b)) return [];
  if (clip === null) return [b];
  const parts: Rect[] = [];
  for (const c of clip) {
    const r = intersect(c, b);
    if (!r) continue;
    const ri = { top: Math.ceil(r.top), left: Math.ceil(r.left), bottom: Math.floor(r.bottom), right: Math.floor(r.right) };
    if (!isEmpty(ri)) parts.push(ri);
  }
  if (parts.length <= 1) return parts;
  return makeDisjoint(parts);
}

/** Turns possibly overlapping rects into disjoint ones covering the same union. */
export function makeDisjoint(rects: Rect[]): Rect[] {
  if (rects.length <= 32) {
    let ok = true;
    outer: for (let i = 0; i < rects.length; i++) {
      for (let j = i + 1; j < rects.length; j++) {
        if (!disjoint(rects[i]!, rects[j]!)) { ok = false; break outer; }
      }
    }
    if (ok) return rects;
  }
  // Band sweep: split at every distinct top/bottom, merge the x intervals within each band.
  const ys = [...new Set(rects.flatMap((r) => [r.top, r.bottom]))].sort((p, q) => p - q);
  const byTop = [...rects].sort((p, q) => p.top - q.top);
  const out: Rect[] = [];
  let active: Rect[] = [];
  let next = 0;
  for (let i = 0; i + 1 < ys.length; i++) {
    const y0 = ys[i]!;
    const y1 = ys[i + 1]!;
    while (next < byTop.length && byTop[next]!.top <= y0) active.push(byTop[next++]!);
    active = active.filter((r) => r.bottom > y0);
    if (active.length === 0) continue;
    const xs = active.map((r) => [r.left, r.right] as [number, number]).sort((p, q) => p[0] - q[0]);
    let [l, rr] = xs[0]!;
    for (let k = 1; k < xs.length; k++) {
      const [a, z] = xs[k]!;
      if (a <= rr) { if (z > rr) rr = z; continue; }
      out.push({ top: y0, left: l, bottom: y1, right: rr });
      l = a; rr = z;
    }
    out.push({ top: y0, left: l, bottom: y1, right: rr });
  }
  return out;
}
