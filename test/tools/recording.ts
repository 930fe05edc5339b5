// The display-recording format written by capture-display.ts: repeated {u16 type, u32 size, body},
// i.e. the SPICE mini-header framing. Shared by the codec tests and bench/display.
export interface RecordedMessage { type: number; body: Buffer; offset: number }

/** The messages of a recording, in order. Throws on a truncated record. */
export function readRecording(buf: Buffer): RecordedMessage[] {
  const out: RecordedMessage[] = [];
  let p = 0;
  while (p < buf.length) {
    if (buf.length - p < 6) throw new Error(`recording truncated at ${p}`);
    const type = buf.readUInt16LE(p);
    const size = buf.readUInt32LE(p + 2);
    if (buf.length - p - 6 < size) throw new Error(`recording truncated in message at ${p}`);
    out.push({ type, body: buf.subarray(p + 6, p + 6 + size), offset: p });
    p += 6 + size;
  }
  return out;
}

export function writeRecording(msgs: { type: number; body: Buffer }[]): Buffer {
  return Buffer.concat(msgs.flatMap((m) => {
    const h = Buffer.alloc(6);
    h.writeUInt16LE(m.type, 0);
    h.writeUInt32LE(m.body.length, 2);
    return [h, m.body];
  }));
}
