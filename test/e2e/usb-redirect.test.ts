// spicectl usb redirect against QEMU with a real Linux guest (one TCG boot for the file):
// emulated disk and CD seen, mounted and read byte-exact by the guest; guest writes land in
// the image; two devices at once; a stop mid-read; LZ4 on the wire. At SuperSpeed the guest
// drives the devices with USB Attached SCSI (uas), on EHCI and with --no-uas with Bulk-Only.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, startQemu, type QemuServer } from './harness/index.js';
import { BIN } from './spicectl.js';
import { fileMd5, fsckClean, makeFatImage, makeIso, mtype, randomFile, textFile } from './usb-images.js';

const tmp = mkdtempSync(join(tmpdir(), 'spicectl-usb-'));

interface Running {
  proc: ChildProcess;
  done: Promise<{ code: number | null; stdout: string; stderr: string }>;
}

function redirect(args: string[]): Running {
  const proc = spawn(process.execPath, [BIN, 'usb', 'redirect', ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, CI: '1' } });
  let stdout = '';
  let stderr = '';
  proc.stdout!.on('data', (d) => (stdout += d));
  proc.stderr!.on('data', (d) => (stderr += d));
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => proc.on('close', (code) => resolve({ code, stdout, stderr })));
  return { proc, done };
}

/** SUM lines of the guest for one device since offset: path -> md5 */
function sums(log: string, dev: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of log.matchAll(new RegExp(`^SUM ${dev} ([0-9a-f]{32})\\s+/mnt/${dev}/(\\S+)$`, 'gm'))) out[m[2]!.toLowerCase()] = m[1]!;
  return out;
}

describe('usb redirect into a QEMU guest (xhci)', () => {
  let q: QemuServer;
  let uri: string;
  before(async () => {
    q = await startQemu({ usbredir: 2, append: 'guest.delay_use=0 guest.write=1' });
    uri = `spice://127.0.0.1:${q.port}`;
  });
  after(() => q?.stop());

  async function serialSince(off: number): Promise<string> {
    const { readFileSync } = await import('node:fs');
    return readFileSync(q.serialLog, 'utf8').slice(off);
  }

  test('an emulated FAT disk: mounted, every file byte-exact, the guest write lands in the image, fsck clean', async () => {
    const img = makeFatImage(tmp, 'disk.img', { 'hello.txt': Buffer.from('hello from the host\n'), 'random.bin': randomFile(3 << 20), 'notes.txt': textFile(200_000) });
    const off = q.serialSize();
    const r = redirect([uri, '--disk', img.path, '--json']);
    const attached = await q.waitMark('usb-attached', 60_000, off);
    assert.match(attached.fields.id ?? '', /^1209:0001$/);
    assert.equal(attached.fields.speed, '5000', 'SuperSpeed on the USB 3 half of the xHCI port');
    const ready = await q.waitMark('block-ready', 60_000, off);
    assert.equal(ready.fields.drv, 'uas', 'Linux picks USB Attached SCSI (alt setting 1, bulk streams)');
    const mounted = await q.waitMark('mounted', 60_000, off);
    const dev = mounted.fields.dev!;
    assert.equal(mounted.fields.fs, 'vfat');
    await q.waitMark('read-done', 60_000, mounted.offset);
    await q.waitMark('write-done', 60_000, mounted.offset);
    const got = sums(await serialSince(mounted.offset), dev);
    for (const [f, m] of Object.entries(img.md5)) assert.equal(got[f], m, `${f} read by the guest`);
    r.proc.kill('SIGINT');
    const res = await r.done;
    assert.equal(res.code, 0, res.stderr);
    await q.waitMark('usb-detached', 30_000, off);
    const j = JSON.parse(res.stdout);
    assert.equal(j.ok, true);
    assert.ok(j.events.some((e: string) => e.startsWith('redirected:')));
    // The guest wrote GUEST.TXT = seq 1 20000, synced and unmounted: it is in the image now.
    const guestTxt = mtype(img.path, 'GUEST.TXT').toString();
    assert.equal(guestTxt, `${Array.from({ length: 20000 }, (_, i) => i + 1).join('\n')}\n`);
    const fsck = fsckClean(img.path);
    assert.ok(fsck.clean, fsck.output);
  });

  test('an emulated CD (ISO) mounts with the right files, over UAS and with --no-uas over Bulk-Only', async () => {
    const iso = makeIso(tmp, 'cd.iso', { 'readme.txt': Buffer.from('spicectl cd\n'), 'payload.bin': randomFile(1 << 20) });
    for (const [flags, driver] of [[[], 'uas'], [['--no-uas'], 'usb-storage']] as const) {
      const off = q.serialSize();
      const r = redirect([uri, '--cd', iso.path, ...flags]);
      const ready = await q.waitMark('block-ready', 60_000, off);
      assert.equal(ready.fields.drv, driver, flags.join(' '));
      const mounted = await q.waitMark('mounted', 60_000, off);
      assert.equal(mounted.fields.fs, 'iso9660');
      await q.waitMark('read-done', 60_000, mounted.offset);
      const got = sums(await serialSince(mounted.offset), mounted.fields.dev!);
      for (const [f, m] of Object.entries(iso.md5)) assert.equal(got[f], m, f);
      r.proc.kill('SIGINT');
      const res = await r.done;
      assert.equal(res.code, 0);
      const said = /^cd \S+cd\.iso: the guest drives it with USB Attached SCSI \(UAS\)$/m;
      if (driver === 'uas') assert.match(res.stdout, said);
      else assert.doesNotMatch(res.stdout, said);
      await q.waitMark('usb-detached', 30_000, off);
    }
  });

  test('two devices at once on two usbredir channels', async () => {
    const a = makeFatImage(tmp, 'a.img', { 'a.txt': textFile(50_000) });
    const b = makeIso(tmp, 'b.iso', { 'b.txt': Buffer.from('bee\n') });
    const off = q.serialSize();
    const r = redirect([uri, '--disk', a.path, '--cd', b.path, '--json']);
    const m1 = await q.waitMark('read-done', 90_000, off);
    const m2 = await q.waitMark('read-done', 90_000, m1.offset);
    const log = await serialSince(off);
    const devs = [m1.fields.dev!, m2.fields.dev!].sort();
    assert.equal(devs.length, 2);
    const all = { ...sums(log, devs[0]!), ...sums(log, devs[1]!) };
    assert.equal(all['a.txt'], a.md5['a.txt']);
    assert.equal(all['b.txt'], b.md5['b.txt']);
    await q.waitMark(/MARK write-(done|failed)/, 60_000, off);
    r.proc.kill('SIGINT');
    const res = await r.done;
    assert.equal(res.code, 0, res.stderr);
    const j = JSON.parse(res.stdout);
    assert.equal(j.usb.length, 2);
    assert.deepEqual(j.usb.map((u: { channel: string }) => u.channel).sort(), ['usbredir:0', 'usbredir:1']);
  });

  test('stopping spicectl mid-read: the device goes, exit 0, the image is intact', async () => {
    const img = makeFatImage(tmp, 'big.img', { 'big.bin': randomFile(24 << 20) }, 32768);
    const before = fileMd5(img.path);
    const off = q.serialSize();
    const r = redirect([uri, '--disk', img.path, '--limit', '2MB/s']);
    const mounted = await q.waitMark('mounted', 60_000, off);
    r.proc.kill('SIGINT');
    const res = await r.done;
    assert.equal(res.code, 0, res.stderr);
    await q.waitMark('usb-detached', 30_000, off);
    // The guest's reader fails with I/O errors and its script moves on: let it finish this device.
    const after = await q.waitMark(/MARK (read-done|block-gone)/, 30_000, mounted.offset);
    const log = await serialSince(mounted.offset);
    assert.doesNotMatch(log.slice(0, after.offset - mounted.offset), /^SUM \S+ [0-9a-f]{32}\s+\S+big\.bin$/m, 'the read was really interrupted');
    assert.equal(fileMd5(img.path), before, 'nothing written to the image');
    assert.ok(fsckClean(img.path).clean);
  });

  test('LZ4: compressed messages both ways on the wire, identical bytes in the guest; off means none', async () => {
    const img = makeFatImage(tmp, 'lz4.img', { 'text.txt': textFile(2 << 20) });
    for (const mode of ['lz4', 'off']) {
      const off = q.serialSize();
      const r = redirect([uri, '--disk', img.path, '--ro', '--compress', mode, '--json']);
      const mounted = await q.waitMark('mounted', 60_000, off);
      await q.waitMark('read-done', 60_000, mounted.offset);
      assert.equal(sums(await serialSince(mounted.offset), mounted.fields.dev!)['text.txt'], img.md5['text.txt']);
      await q.waitMark('write-failed', 30_000, mounted.offset); // --ro: the guest cannot remount read-write
      r.proc.kill('SIGINT');
      const res = await r.done;
      assert.equal(res.code, 0, res.stderr);
      const usb = JSON.parse(res.stdout).usb[0];
      if (mode === 'lz4') {
        assert.equal(usb.lz4, true);
        assert.ok(usb.payloadOut > 2_000_000, `payload out ${usb.payloadOut}`);
        assert.ok(usb.ratioOut > 1.5, `client->guest ratio ${usb.ratioOut}`);
        assert.ok(usb.wireOut < usb.payloadOut);
      } else {
        assert.equal(usb.lz4, false);
        assert.equal(usb.wireOut, usb.payloadOut);
        assert.equal(usb.wireIn, usb.payloadIn);
      }
    }
  });

  test('bad inputs: a missing image and too many devices give one clear line, nothing reaches the guest', async () => {
    const r = await redirect([uri, '--disk', join(tmp, 'nope.img')]).done;
    assert.equal(r.code, 9);
    assert.match(r.stderr, /^spicectl: .*nope\.img/m);
    // The image is checked before connecting: no server needed to hear about it.
    const closedPort = await freePort();
    const r0 = await redirect([`spice://127.0.0.1:${closedPort}`, '--cd', join(tmp, 'nope.iso')]).done;
    assert.equal(r0.code, 9, r0.stderr);
    assert.match(r0.stderr, /^spicectl: cannot use image .*nope\.iso: ENOENT/m);
    const img = makeFatImage(tmp, 'x.img', { 'x.txt': Buffer.from('x') });
    const r2 = await redirect([uri, '--disk', img.path, '--disk', img.path, '--disk', img.path]).done;
    assert.equal(r2.code, 9);
    assert.match(r2.stderr, /2 usbredir channel\(s\) for 3 devices/);
  });
});

describe('usb redirect into a QEMU guest (ehci)', () => {
  let q: QemuServer;
  before(async () => {
    q = await startQemu({ usbredir: 1, controller: 'ehci', append: 'guest.delay_use=0' });
  });
  after(() => q?.stop());

  test('an emulated disk on EHCI: mounted and read byte-exact', async () => {
    const img = makeFatImage(tmp, 'ehci.img', { 'data.bin': randomFile(1 << 20) });
    const off = q.serialSize();
    const r = redirect([`spice://127.0.0.1:${q.port}`, '--disk', img.path, '--ro']);
    const attached = await q.waitMark('usb-attached', 60_000, off);
    assert.equal(attached.fields.speed, '480', 'plugged as SuperSpeed, enumerated as high speed by EHCI');
    assert.equal((await q.waitMark('block-ready', 60_000, off)).fields.drv, 'usb-storage', 'no UAS at high speed');
    const mounted = await q.waitMark('mounted', 60_000, off);
    await q.waitMark('read-done', 60_000, mounted.offset);
    const { readFileSync } = await import('node:fs');
    assert.equal(sums(readFileSync(q.serialLog, 'utf8').slice(mounted.offset), mounted.fields.dev!)['data.bin'], img.md5['data.bin']);
    r.proc.kill('SIGINT');
    const res = await r.done;
    assert.equal(res.code, 0);
    assert.match(res.stdout, /^redirected: emulated USB stick .* on usbredir:0 \(SuperSpeed, lz4\)$/m);
    assert.match(res.stdout, /^disk \S+ehci\.img: the guest enumerates the device as USB 2: high speed from now on$/m);
  });
});
