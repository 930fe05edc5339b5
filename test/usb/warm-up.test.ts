// The warm-up: a scratch copy of an emulated device runs a whole probe (every SCSI command GOOD,
// over UAS and Bulk-Only) in-process, leaves the image untouched, stops when told, never throws.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { openEmulatedCd, openEmulatedDisk } from '../../src/usb/emulated/mass-storage.js';
import { WARM_UP_ROUNDS as R, warmUpRequestPath } from '../../src/usb/warm-up.js';
import { makeFatImage, makeIso, patternBytes, tempDir } from './fake-guest.js';

let tmp: { dir: string; cleanup: () => void };
let fat: string;
let iso: string;
const md5 = (p: string) => createHash('md5').update(readFileSync(p)).digest('hex');

before(() => {
  tmp = tempDir('spicectl-warm-');
  fat = join(tmp.dir, 'fat.img');
  makeFatImage(fat, 2048, { 'DATA.BIN': patternBytes(50_000, 3) });
  iso = join(tmp.dir, 'disc.iso');
  makeIso(iso, { 'data.bin': patternBytes(50_000, 4) });
});
after(() => tmp.cleanup());

describe('warmUpRequestPath', () => {
  it('runs a CD through enumeration and the probe over UAS and Bulk-Only, every command GOOD', async () => {
    const r = await warmUpRequestPath('cd', () => openEmulatedCd(iso), () => false, true);
    // per round: 7 descriptor reads, SET_CONFIGURATION, streams, 12 UAS commands, free, alt 0,
    // GET MAX LUN, 12 BOT commands
    assert.deepEqual(r, { steps: 36 * R, good: 24 * R });
  });

  it('runs a disk read-only and leaves its image as it was', async () => {
    const before = md5(fat);
    const r = await warmUpRequestPath('disk', () => openEmulatedDisk(fat, { readOnly: true }), () => false);
    assert.deepEqual(r, { steps: 26 * R, good: 14 * R });
    assert.equal(md5(fat), before);
  });

  it('uses Bulk-Only alone where the device offers no UAS (high speed)', async () => {
    const r = await warmUpRequestPath('disk', () => openEmulatedDisk(fat, { readOnly: true, speed: 'high' }), () => false);
    assert.deepEqual(r, { steps: 16 * R, good: 7 * R });
  });

  it('stops as soon as it is told to', async () => {
    let n = 0;
    const r = await warmUpRequestPath('cd', () => openEmulatedCd(iso), () => ++n > 3);
    assert.equal(r.steps, 3);
  });

  it('yields to the event loop between steps, so news from the guest stops it at once', async () => {
    // The scratch device answers from memory: without a yield per step the whole warm-up would
    // be one turn of the event loop, and a request arriving meanwhile would wait for all of it.
    let n = 0;
    let guestSpoke = false;
    const r = await warmUpRequestPath('cd', () => openEmulatedCd(iso), () => {
      if (++n === 5) setImmediate(() => (guestSpoke = true));
      return guestSpoke;
    });
    assert.ok(r.steps >= 5 && r.steps <= 6, `stopped after ${r.steps} steps`);
  });

  it('returns quietly when the scratch device cannot be opened', async () => {
    const r = await warmUpRequestPath('cd', () => openEmulatedCd(join(tmp.dir, 'missing.iso')), () => false);
    assert.deepEqual(r, { steps: 0, good: 0 });
  });
});
