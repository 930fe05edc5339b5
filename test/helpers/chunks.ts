/** The same bytes whole, one byte at a time, and in seeded random splits. */
export function splits(buf: Buffer, seeds = [1, 2, 3, 42]): { name: string; chunks: Buffer[] }[] {
  const out = [{ name: 'whole', chunks: [buf] }];
  const bytes: Buffer[] = [];
  for (let i = 0; i < buf.length; i++) bytes.push(buf.subarray(i, i + 1));
  out.push({ name: 'byte by byte', chunks: bytes });
  for (const seed of seeds) {
    let s = seed;
    const rand = () => ((s = (s * 1103515245 + 12345) >>> 0) % 1000) / 1000;
    const chunks: Buffer[] = [];
    let i = 0;
    while (i < buf.length) {
      const n = 1 + Math.floor(rand() * Math.min(64, buf.length - i));
      chunks.push(buf.subarray(i, i + n));
      i += n;
    }
    out.push({ name: `random splits (seed ${seed})`, chunks });
  }
  return out;
}
