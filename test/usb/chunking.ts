// Feed a byte fixture to an incremental parser in several ways: whole, in 1-byte pieces and
// in seeded random splits, so every parser test covers resumption at every offset.

export interface Split {
  label: string;
  chunks: Buffer[];
}

/** A small deterministic PRNG (mulberry32), so a failing split can be reproduced. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Random cut points; piece sizes mostly small, sometimes large, sometimes empty. */
export function randomSplit(bytes: Buffer, seed: number): Buffer[] {
  const rnd = prng(seed);
  const out: Buffer[] = [];
  let pos = 0;
  while (pos < bytes.length) {
    const r = rnd();
    const size = r < 0.05 ? 0 : r < 0.7 ? 1 + Math.floor(rnd() * 7) : 1 + Math.floor(rnd() * 300);
    out.push(bytes.subarray(pos, Math.min(bytes.length, pos + size)));
    pos += size;
  }
  return out;
}

/** whole, 1-byte pieces (for fixtures up to maxOneByte bytes) and `randomCount` random splits. */
export function splits(bytes: Buffer, randomCount = 5, maxOneByte = 1 << 20): Split[] {
  const out: Split[] = [{ label: 'whole', chunks: [bytes] }];
  if (bytes.length <= maxOneByte) {
    const ones: Buffer[] = [];
    for (let i = 0; i < bytes.length; i++) ones.push(bytes.subarray(i, i + 1));
    out.push({ label: '1-byte', chunks: ones });
  }
  for (let s = 1; s <= randomCount; s++) out.push({ label: `random seed ${s}`, chunks: randomSplit(bytes, s * 7919) });
  return out;
}

/** Feed every chunk; return everything the parser produced. */
export function feedChunks<T>(feed: (chunk: Buffer) => T[], chunks: Buffer[]): T[] {
  const out: T[] = [];
  for (const c of chunks) out.push(...feed(c));
  return out;
}

/**
 * For each way of splitting `bytes`, make a fresh parser, feed it and return its output
 * (checked by `check`, which gets the split label for messages).
 */
export function forEachSplit<P extends { feed(chunk: Buffer): T[] }, T>(
  bytes: Buffer,
  makeParser: () => P,
  check: (out: T[], label: string, parser: P) => void,
  randomCount = 5,
): void {
  for (const { label, chunks } of splits(bytes, randomCount)) {
    const parser = makeParser();
    const out = feedChunks((c) => parser.feed(c), chunks);
    check(out, label, parser);
  }
}

/** For each split, expect feeding to throw; returns the errors (one per split). */
export function errorsForEachSplit<P extends { feed(chunk: Buffer): unknown[] }>(bytes: Buffer, makeParser: () => P, randomCount = 5): unknown[] {
  const errors: unknown[] = [];
  for (const { label, chunks } of splits(bytes, randomCount)) {
    const parser = makeParser();
    let err: unknown = undefined;
    try {
      for (const c of chunks) parser.feed(c);
    } catch (e) {
      err = e;
    }
    if (err === undefined) throw new Error(`expected an error for split '${label}', got none`);
    errors.push(err);
  }
  return errors;
}

export function hex(s: string): Buffer {
  return Buffer.from(s.replace(/\s+|#[^\n]*/g, ''), 'hex');
}
