// usbredir capability words: build, test, name, and negotiate.
//
// Caps travel in the hello as an array of u32 words; cap n is bit (n % 32) of word n / 32.
// A caps-dependent field or packet is used only when BOTH sides advertised the cap
// (usbredirparser's have_cap && peer_has_cap). As usbredirparser does, a side that
// advertises bulkStreams without epInfoMaxPacketSize is treated as not having bulkStreams.

import { Cap, HEADER_SIZE_32, HEADER_SIZE_64, type CapName } from './proto.js';

export type CapsWords = readonly number[];

/** Caps words with exactly the given cap bits set. */
export function makeCaps(...caps: number[]): number[] {
  const words: number[] = [];
  for (const cap of caps) setBit(words, cap);
  return words.length ? words : [0];
}

function checkCapNumber(cap: number): void {
  if (!Number.isInteger(cap) || cap < 0 || cap > 0xffff) throw new RangeError(`invalid usbredir cap number ${cap}`);
}

function setBit(words: number[], cap: number): void {
  checkCapNumber(cap);
  const w = cap >>> 5;
  while (words.length <= w) words.push(0);
  words[w] = (words[w]! | (1 << (cap & 31))) >>> 0;
}

/** True when the words advertise cap. Missing words count as 0. */
export function hasCap(words: CapsWords, cap: number): boolean {
  checkCapNumber(cap);
  const w = words[cap >>> 5];
  return w !== undefined && ((w >>> (cap & 31)) & 1) === 1;
}

/** A copy of words with cap set. */
export function withCap(words: CapsWords, cap: number): number[] {
  const out = words.map((w) => w >>> 0);
  setBit(out, cap);
  return out;
}

/** A copy of words with cap cleared. */
export function withoutCap(words: CapsWords, cap: number): number[] {
  checkCapNumber(cap);
  const out = words.map((w) => w >>> 0);
  const w = cap >>> 5;
  if (w < out.length) out[w] = (out[w]! & ~(1 << (cap & 31))) >>> 0;
  return out;
}

/** Every cap this implementation knows (0..7): word 0 = 0xff. */
export const ALL_CAPS: readonly number[] = Object.freeze(makeCaps(...Object.values(Cap)));

const capNameByNumber = new Map<number, CapName>(
  (Object.keys(Cap) as CapName[]).map((k) => [Cap[k], k]),
);

/** Names of the caps set in words; unknown bits appear as "cap<N>". */
export function capNames(words: CapsWords): string[] {
  const names: string[] = [];
  words.forEach((word, wi) => {
    for (let b = 0; b < 32; b++) {
      if (((word >>> b) & 1) === 0) continue;
      const n = wi * 32 + b;
      names.push(capNameByNumber.get(n) ?? `cap${n}`);
    }
  });
  return names;
}

/** words without bulkStreams when epInfoMaxPacketSize is missing (a protocol rule). */
export function sanitizeCaps(words: CapsWords): number[] {
  if (hasCap(words, Cap.bulkStreams) && !hasCap(words, Cap.epInfoMaxPacketSize)) {
    return withoutCap(words, Cap.bulkStreams);
  }
  return words.map((w) => w >>> 0);
}

/** The caps of both sides after the hello exchange. */
export class NegotiatedCaps {
  readonly ours: readonly number[];
  readonly peer: readonly number[];
  /** Bitwise AND of both sides (sanitized): the caps whose fields are on the wire. */
  readonly shared: readonly number[];

  constructor(ours: CapsWords, peer: CapsWords) {
    this.ours = Object.freeze(sanitizeCaps(ours));
    this.peer = Object.freeze(sanitizeCaps(peer));
    const n = Math.min(this.ours.length, this.peer.length);
    const shared: number[] = [];
    for (let i = 0; i < n; i++) shared.push((this.ours[i]! & this.peer[i]!) >>> 0);
    this.shared = Object.freeze(shared.length ? shared : [0]);
  }

  /** Both sides advertised cap. */
  has(cap: number): boolean {
    return hasCap(this.shared, cap);
  }
  ourHas(cap: number): boolean {
    return hasCap(this.ours, cap);
  }
  peerHas(cap: number): boolean {
    return hasCap(this.peer, cap);
  }

  /** Header size of every packet after the hellos: 16 with shared 64-bit ids, else 12. */
  get headerSize(): number {
    return this.has(Cap.ids64) ? HEADER_SIZE_64 : HEADER_SIZE_32;
  }

  /** Shared cap names, for logs. */
  get names(): string[] {
    return capNames(this.shared);
  }
}

export function negotiate(ours: CapsWords, peer: CapsWords): NegotiatedCaps {
  return new NegotiatedCaps(ours, peer);
}
