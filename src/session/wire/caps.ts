/** Capability sets are bit arrays in u32 words: cap N is bit N%32 of word N/32. */
export function capsWords(bits: readonly number[]): number[] {
  const words: number[] = [];
  for (const b of bits) {
    const w = b >> 5;
    while (words.length <= w) words.push(0);
    words[w] = (words[w]! | (1 << (b & 31))) >>> 0;
  }
  return words;
}

export function hasCap(words: readonly number[], bit: number): boolean {
  const w = words[bit >> 5];
  return w !== undefined && ((w >>> (bit & 31)) & 1) === 1;
}

/** The bit numbers set in a caps array, for reports. */
export function capBits(words: readonly number[]): number[] {
  const out: number[] = [];
  words.forEach((w, i) => {
    for (let b = 0; b < 32; b++) if ((w >>> b) & 1) out.push(i * 32 + b);
  });
  return out;
}
