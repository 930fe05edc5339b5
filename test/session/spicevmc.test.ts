import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { compressSync } from 'lz4-napi';
import { decodeCompressedData, encodeCompressedData } from '../../src/session/wire/messages/spicevmc.js';
import { ProtocolError } from '../../src/util/errors.js';
import { SpicevmcChannel } from '../../src/session/channels/spicevmc.js';
import type { ChannelHost } from '../../src/session/channels/channel.js';
import { ChannelType, MsgSpicevmc } from '../../src/session/wire/enums.js';

test('LZ4 compressed data round trip; small or incompressible payloads stay plain', () => {
  const fat = Buffer.alloc(64 * 1024);
  fat.write('FAT12   ', 54);
  const body = encodeCompressedData(fat)!;
  assert.equal(body[0], 1);
  assert.equal(body.readUInt32LE(1), fat.length);
  assert.ok(body.length < 1000);
  assert.deepEqual(decodeCompressedData(body), fat);
  assert.equal(encodeCompressedData(Buffer.alloc(1000)), null, 'threshold: > 1000 bytes');
  assert.equal(encodeCompressedData(randomBytes(4096)), null, 'random data does not shrink');
});

test('the wire layout is u8 type, u32 LE size, raw LZ4 block', () => {
  const payload = Buffer.from('abcd'.repeat(600));
  const body = encodeCompressedData(payload)!;
  assert.deepEqual(body.subarray(1), compressSync(payload));
  const none = Buffer.concat([Buffer.from([0]), Buffer.from('raw')]);
  assert.deepEqual(decodeCompressedData(none), Buffer.from('raw'));
});

test('hostile compressed data is refused cleanly', () => {
  const good = encodeCompressedData(Buffer.alloc(5000, 7))!;
  const lie = Buffer.from(good);
  lie.writeUInt32LE(5001, 1);
  assert.throws(() => decodeCompressedData(lie), ProtocolError);
  const huge = Buffer.from(good);
  huge.writeUInt32LE(0xffffffff, 1);
  assert.throws(() => decodeCompressedData(huge), /declares/);
  assert.throws(() => decodeCompressedData(Buffer.from([2, 0, 0, 0, 0])), /unknown compression type 2/);
  assert.throws(() => decodeCompressedData(Buffer.alloc(0)), ProtocolError);
  assert.throws(() => decodeCompressedData(Buffer.from([1, 1, 0])), /truncated/);
  for (let n = 5; n < good.length; n++) assert.throws(() => decodeCompressedData(good.subarray(0, n)), ProtocolError, `cut at ${n}`);
  const garbage = Buffer.concat([Buffer.from([1, 0, 16, 0, 0]), randomBytes(200)]);
  assert.throws(() => decodeCompressedData(garbage), ProtocolError);
});

test('data that arrives before anyone reads the channel is held, in order, for the first reader', async () => {
  const warnings: unknown[] = [];
  const log = { warn: (...a: unknown[]) => warnings.push(a), debug: () => {}, info: () => {}, error: () => {} };
  const host = { log, connectionId: () => 1, password: () => ({ value: '', given: false }), openSocket: () => Promise.reject(new Error('no')) };
  const ch = new SpicevmcChannel(host as unknown as ChannelHost, ChannelType.usbredir, 1, false);
  const deliver = (s: string | Buffer) => (ch as unknown as { onMessage(t: number, b: Buffer): void }).onMessage(MsgSpicevmc.data, Buffer.from(s));
  deliver('hello ');
  deliver('world');
  const got: string[] = [];
  ch.on('data', (d: Buffer) => got.push(String(d)));
  deliver('!'); // after the reader attached, before the held data reached it: stays in order
  assert.deepEqual(got, []);
  await Promise.resolve();
  assert.deepEqual(got, ['hello ', 'world', '!']);
  deliver('live');
  assert.deepEqual(got.at(-1), 'live', 'with a reader and nothing held, data goes straight through');

  // A channel nobody reads holds at most 1 MiB.
  const idle = new SpicevmcChannel(host as unknown as ChannelHost, ChannelType.usbredir, 2, false);
  const push = (b: Buffer) => (idle as unknown as { onMessage(t: number, b: Buffer): void }).onMessage(MsgSpicevmc.data, b);
  push(Buffer.alloc(1 << 20));
  assert.equal(warnings.length, 0);
  push(Buffer.alloc(1));
  assert.equal(warnings.length, 1);
});
