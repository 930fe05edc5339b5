import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GuestLog, compilePattern, fileSize } from '../../src/bench/guest-log.js';

const dir = mkdtempSync(join(tmpdir(), 'spicectl-guestlog-'));

test('follows a log from its size at the start; lines are timestamped from t0; partial lines wait', async () => {
  const file = join(dir, 'serial.log');
  writeFileSync(file, 'MARK boot-done 4.36 poll_ms=10\nMARK mounted 1.00 dev=old\n');
  const t0 = performance.now();
  const log = new GuestLog(file, t0).start();
  assert.equal(log.startOffset, fileSize(file));
  const waiting = log.waitFor(/MARK mounted/, 5000);
  setTimeout(() => appendFileSync(file, 'MARK usb-attached 5.66 bus=1-2\nMARK mount'), 60);
  setTimeout(() => appendFileSync(file, 'ed 6.88 dev=sr0\nSUM sr0 abc\n'), 120);
  const hit = await waiting;
  assert.ok(hit);
  assert.equal(hit.line, 'MARK mounted 6.88 dev=sr0', 'the old line before the start does not count; the split line is whole');
  assert.ok(hit.t >= 110 && hit.t < 1000, `${hit.t}`);
  const marks = log.marks();
  assert.deepEqual(Object.keys(marks), ['usb-attached', 'mounted']);
  assert.ok(marks['usb-attached']! >= 50 && marks['usb-attached']! < marks.mounted!);
  // a line already seen resolves at once; from a later line index it waits (and times out)
  assert.equal((await log.waitFor(/usb-attached/, 10))?.line, 'MARK usb-attached 5.66 bus=1-2');
  assert.equal(await log.waitFor(/usb-attached/, 30, log.lines.length), null);
  // marks up to a line index
  assert.deepEqual(Object.keys(log.marks(1)), ['usb-attached']);
  log.stop();
});

test('a log that does not exist yet is picked up when it appears', async () => {
  const file = join(dir, 'later.log');
  const log = new GuestLog(file, performance.now()).start();
  assert.equal(log.startOffset, 0);
  setTimeout(() => writeFileSync(file, 'MARK usb-detached 7.64 bus=1-2\n'), 40);
  assert.ok(await log.waitFor(/MARK usb-detached/, 3000));
  log.stop();
});

test('waitQuiet returns once nothing was written for a while; abort and stop end waits', async () => {
  const file = join(dir, 'quiet.log');
  writeFileSync(file, '');
  const log = new GuestLog(file, performance.now()).start();
  const writer = setInterval(() => appendFileSync(file, 'cat: read error\n'), 20);
  setTimeout(() => clearInterval(writer), 200);
  const t = performance.now();
  await log.waitQuiet(100, 3000);
  const ms = performance.now() - t;
  assert.ok(ms >= 250 && ms < 1500, `${ms}`);
  // bounded by maxMs
  const w = setInterval(() => appendFileSync(file, 'x\n'), 10);
  const t2 = performance.now();
  await log.waitQuiet(100, 150);
  clearInterval(w);
  assert.ok(performance.now() - t2 < 1000);
  const ac = new AbortController();
  const p = log.waitFor(/never/, 10_000, 0, ac.signal);
  ac.abort();
  assert.equal(await p, null);
  const q = log.waitFor(/never/, 10_000);
  log.stop();
  assert.equal(await q, null);
});

test('patterns: a bad regex is a usage error naming the flag', () => {
  assert.ok(compilePattern('MARK mounted', '--ready').test('MARK mounted 1.0'));
  assert.throws(() => compilePattern('MARK (', '--ready'), /--ready "MARK \(" is not a regular expression/);
});
