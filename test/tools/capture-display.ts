// Records a real server's display channel messages for codec fixtures.
//   node --import tsx test/tools/capture-display.ts URI OUT.bin [--compression MODE|server] [--glz-window PIXELS] [--seconds S]
// OUT.bin is a sequence of {u16 type, u32 size, body} (the mini-header framing), display channel 0 only.
// MODE: off auto_glz auto_lz quic glz lz lz4 (sent as PREFERRED_COMPRESSION), or "server" to keep the server's.
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { Session } from '../../src/session/session.js';
import { parseSpiceUri } from '../../src/session/uri.js';
import { ImageCompression } from '../../src/session/wire/enums.js';
import { encodeMessage } from '../../src/session/wire/framer.js';

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: { compression: { type: 'string', default: 'server' }, 'glz-window': { type: 'string', default: '0' }, seconds: { type: 'string', default: '3' } },
});
const [uri, out] = positionals;
if (!uri || !out) {
  console.error('usage: capture-display.ts URI OUT.bin [--compression MODE|server] [--glz-window PIXELS] [--seconds S]');
  process.exit(2);
}
const modes: Record<string, number> = { off: ImageCompression.off, auto_glz: ImageCompression.autoGlz, auto_lz: ImageCompression.autoLz, quic: ImageCompression.quic, glz: ImageCompression.glz, lz: ImageCompression.lz, lz4: ImageCompression.lz4 };
const mode = values.compression!;
if (mode !== 'server' && !(mode in modes)) throw new Error(`unknown compression ${mode}`);

const session = new Session({
  endpoint: parseSpiceUri(uri),
  password: process.env.SPICE_PASSWORD,
  preferredCompression: mode === 'server' ? null : modes[mode]!,
  glzWindow: Number(values['glz-window']),
  drawDisplay: false,
});
const parts: Buffer[] = [];
session.on('channel', (ch) => {
  if (ch.type === 2 && ch.id === 0) ch.on('raw', (type: number, body: Buffer) => parts.push(encodeMessage(type, Buffer.from(body), true, 0n)));
});
await session.connect();
await new Promise((r) => setTimeout(r, Number(values.seconds) * 1000));
session.close();
writeFileSync(out, Buffer.concat(parts));
console.log(`${parts.length} display messages, ${Buffer.concat(parts).length} bytes -> ${out}`);
process.exit(0);
