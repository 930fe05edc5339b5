// Standard input read to its end (passwords, clipboard text, .vv files given as "-").

/** Everything on stdin; with `limit`, throws limit.error() as soon as more than limit.bytes came. */
export async function readStdin(limit?: { bytes: number; error: () => Error }): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of process.stdin) {
    chunks.push(c as Buffer);
    n += (c as Buffer).length;
    if (limit && n > limit.bytes) throw limit.error();
  }
  return Buffer.concat(chunks);
}
