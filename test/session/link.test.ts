import { test } from 'node:test';
import assert from 'node:assert/strict';
import { constants, generateKeyPairSync, privateDecrypt } from 'node:crypto';
import { encodeLinkMess, parseLinkHeader, parseLinkReply, LINK_REPLY_SIZE } from '../../src/session/wire/messages/link.js';
import { capsWords, hasCap, capBits } from '../../src/session/wire/caps.js';
import { encryptTicket } from '../../src/session/auth.js';
import { ProtocolError, SpiceError } from '../../src/util/errors.js';

test('link message layout: header, mess, caps offset 18', () => {
  const b = encodeLinkMess({ connectionId: 0x11223344, channelType: 2, channelId: 1, commonCaps: [0x0b], channelCaps: [0x20, 0x1] });
  assert.equal(b.toString('latin1', 0, 4), 'REDQ');
  assert.equal(b.readUInt32LE(4), 2);
  assert.equal(b.readUInt32LE(8), 2);
  assert.equal(b.readUInt32LE(12), 18 + 12);
  assert.equal(b.readUInt32LE(16), 0x11223344);
  assert.equal(b[20], 2);
  assert.equal(b[21], 1);
  assert.equal(b.readUInt32LE(22), 1);
  assert.equal(b.readUInt32LE(26), 2);
  assert.equal(b.readUInt32LE(30), 18);
  assert.deepEqual([b.readUInt32LE(34), b.readUInt32LE(38), b.readUInt32LE(42)], [0x0b, 0x20, 0x1]);
  assert.equal(b.length, 46);
});

test('link header: wrong magic and version are protocol errors', () => {
  const h = Buffer.alloc(16);
  h.write('HTTP', 0, 'latin1');
  assert.throws(() => parseLinkHeader(h), (e: unknown) => e instanceof ProtocolError && /not a SPICE server/.test(e.message));
  h.write('REDQ', 0, 'latin1');
  h.writeUInt32LE(3, 4);
  assert.throws(() => parseLinkHeader(h), /protocol 3/);
  h.writeUInt32LE(2, 4);
  h.writeUInt32LE(1 << 20, 12);
  assert.throws(() => parseLinkHeader(h), /limit/);
});

test('link reply: caps read at caps_offset; errors short-circuit; truncation detected', () => {
  const r = Buffer.alloc(LINK_REPLY_SIZE + 8);
  r.fill(9, 4, 166);
  r.writeUInt32LE(1, 166);
  r.writeUInt32LE(1, 170);
  r.writeUInt32LE(LINK_REPLY_SIZE, 174);
  r.writeUInt32LE(0x0b, 178);
  r.writeUInt32LE(0x40, 182);
  const p = parseLinkReply(r);
  assert.equal(p.error, 0);
  assert.equal(p.pubKey.length, 162);
  assert.deepEqual(p.commonCaps, [0x0b]);
  assert.deepEqual(p.channelCaps, [0x40]);
  assert.throws(() => parseLinkReply(r.subarray(0, 180)), ProtocolError);
  const e = Buffer.alloc(LINK_REPLY_SIZE);
  e.writeUInt32LE(7, 0);
  assert.equal(parseLinkReply(e).error, 7);
});

test('caps words', () => {
  const w = capsWords([0, 3, 33]);
  assert.deepEqual(w, [9, 2]);
  assert.ok(hasCap(w, 3) && hasCap(w, 33) && !hasCap(w, 1) && !hasCap(w, 64));
  assert.deepEqual(capBits(w), [0, 3, 33]);
});

test('ticket: RSA-OAEP SHA-1 of password + NUL, 128 bytes, decrypts with the server key', () => {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 1024 });
  const der = publicKey.export({ format: 'der', type: 'spki' });
  assert.equal(der.length, 162);
  const t = encryptTicket(der, 's3cret');
  assert.equal(t.length, 128);
  const plain = privateDecrypt({ key: privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' }, t);
  assert.deepEqual(plain, Buffer.from('s3cret\0'));
  assert.deepEqual(privateDecrypt({ key: privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' }, encryptTicket(der, '')), Buffer.from([0]));
  assert.throws(() => encryptTicket(der, 'x'.repeat(60)), (e: unknown) => e instanceof SpiceError && e.code === 'auth');
  assert.throws(() => encryptTicket(Buffer.alloc(162, 1), 'a'), ProtocolError);
});
