// Proves the e2e harness against the real servers: Xspice (start, SPICE link, screenshots, xterm
// focus, stop, cleanup of a crashed test process), QEMU (guest boot, QMP, guest USB markers with
// a QEMU-attached disk, TLS with the test CA).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { after, describe, it } from 'node:test';
import { createTestCa } from '../helpers/test-ca.js';
import {
  groupPids,
  isListening,
  makeStateDir,
  QmpClient,
  repoRoot,
  rootHash,
  run,
  spiceProbe,
  startQemu,
  startXspice,
  startXterm,
  waitFor,
  xdotool,
  xImport,
  type QemuServer,
  type XspiceServer,
} from './harness/index.js';

const log = (msg: string) => console.log(msg);

describe('test CA', () => {
  it('writes a CA and a server certificate that verify', () => {
    const dir = makeStateDir('ca');
    const ca = createTestCa(dir);
    assert.equal(ca.subject, 'C=XX,O=spicectl test,CN=localhost');
    for (const f of ['ca-cert.pem', 'server-cert.pem', 'server-key.pem']) assert.ok(existsSync(join(dir, f)), f);
    const caCert = new X509Certificate(readFileSync(ca.caCertFile));
    const cert = new X509Certificate(ca.serverCertPem);
    assert.ok(caCert.ca);
    assert.ok(cert.checkIssued(caCert) && cert.verify(caCert.publicKey));
    assert.equal(cert.checkHost('localhost'), 'localhost');
    assert.equal(cert.checkIP('127.0.0.1'), '127.0.0.1');
    assert.equal(cert.publicKey.asymmetricKeyDetails?.modulusLength, 2048);
  });
});

describe('Xspice', { timeout: 120_000 }, () => {
  let x: XspiceServer | undefined;
  after(() => x?.stop());

  it('starts with static content, speaks SPICE, and screenshots at the configured size', async () => {
    const t0 = Date.now();
    x = await startXspice({ content: 'static', size: '800x600' });
    log(`Xspice ${x.display} port ${x.port} ready in ${Date.now() - t0} ms (${x.stateDir})`);
    assert.ok(isListening(x.port));
    assert.equal((await spiceProbe(x.port)).error, 0);
    const png = await xImport(x.display, join(x.stateDir, 'root.png'));
    assert.deepEqual([png.width, png.height, png.bitDepth, png.colorType], [800, 600, 8, 2]);
    // 'static' means nothing changes between two screenshots.
    assert.equal(await rootHash(x.display), await rootHash(x.display));
  });

  it('gives an xterm the keyboard focus and captures typed keys', async () => {
    assert.ok(x);
    const capture = join(x.stateDir, 'typed.txt');
    const xt = await startXterm(x.display, { captureFile: capture, raw: true });
    try {
      assert.ok(await xt.isFocused());
      await xdotool(x.display, ['type', '--delay', '10', 'hi!']);
      await xdotool(x.display, ['key', 'BackSpace', 'Return']);
      await waitFor(() => readFileSync(capture, 'latin1') === 'hi!\x7f\r', 5000, 'typed keys in the capture file');
    } finally {
      await xt.stop();
    }
  });

  it('stops cleanly (idempotent)', async () => {
    assert.ok(x);
    const { port, pid, display } = x;
    await Promise.all([x.stop(), x.stop()]);
    assert.ok(!isListening(port));
    assert.deepEqual(groupPids(pid), []);
    assert.ok(!existsSync(`/tmp/.X11-unix/X${display.slice(1)}`));
  });

  it('kills the servers of a test process that dies without stopping them', () => {
    const script = `
      import { startXspice } from './test/e2e/harness/index.ts';
      const x = await startXspice({ content: 'none' });
      console.log(JSON.stringify({ pid: x.pid, port: x.port, display: x.display }));
      throw new Error('simulated test failure');`;
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: repoRoot,
      encoding: 'utf8',
      timeout: 60_000,
    });
    assert.notEqual(r.status, 0);
    const { pid, port, display } = JSON.parse(r.stdout.trim().split('\n').pop()!) as { pid: number; port: number; display: string };
    assert.deepEqual(groupPids(pid), []);
    assert.ok(!isListening(port));
    // Xorg got a SIGTERM (not the wrapper's SIGKILL) and removed its lock file.
    assert.ok(!existsSync(`/tmp/.X${display.slice(1)}-lock`));
  });
});

describe('QEMU', { timeout: 240_000 }, () => {
  const servers: QemuServer[] = [];
  after(() => Promise.all(servers.map((s) => s.stop())));

  let q: QemuServer | undefined;

  it('boots the guest to boot-done and answers QMP', async () => {
    q = await startQemu({ append: 'guest.delay_use=0 guest.write=1' });
    servers.push(q);
    log(`QEMU port ${q.port} boot-done after ${q.bootMs} ms (${q.stateDir})`);
    const loaded = await q.waitMark('modules-loaded', 1000);
    assert.ok(Number(loaded.fields.n) > 30, loaded.line);
    const spice = await q.qmp<{ port: number; auth: string; host: string }>('query-spice');
    assert.deepEqual([spice.port, spice.auth, spice.host], [q.port, 'none', '127.0.0.1']);
    assert.match(await q.hmp('info usb'), /usbredirdev1/);
    assert.equal((await spiceProbe(q.port)).error, 0);
  });

  it('guest reports a hot-plugged USB disk: mount, md5s, write, removal', async () => {
    assert.ok(q);
    // A FAT disk image with one file, attached by QEMU itself (no SPICE client involved).
    const img = join(q.stateDir, 'disk.img');
    const payload = join(q.stateDir, 'payload.txt');
    writeFileSync(payload, 'spicectl harness payload\n'.repeat(100));
    await run('mkfs.vfat', ['-C', '-n', 'HARNESS', img, '2048']);
    await run('mcopy', ['-i', img, payload, '::PAYLOAD.TXT']);
    const ev = await QmpClient.connect(q.qmpEventsSocket); // the events socket has its own client
    try {
      const off = q.serialSize();
      await q.qmp('blockdev-add', { driver: 'raw', 'node-name': 'hdisk', file: { driver: 'file', filename: img } });
      await q.qmp('device_add', { driver: 'usb-storage', id: 'husb', drive: 'hdisk', bus: 'usb.0' });
      const attached = await q.waitMark('usb-attached', 20_000, off);
      const mounted = await q.waitMark('mounted', 20_000, attached.offset);
      assert.equal(mounted.fields.fs, 'vfat');
      const sum = await q.waitMark(/^SUM \S+ ([0-9a-f]{32}) .*PAYLOAD\.TXT$/i, 20_000, mounted.offset);
      assert.equal(sum.match[1], createHash('md5').update(readFileSync(payload)).digest('hex'));
      await q.waitMark('read-done', 20_000, mounted.offset);
      const wrote = await q.waitMark('write-done', 20_000, mounted.offset);
      await q.qmp('device_del', { id: 'husb' });
      await ev.waitEvent('DEVICE_DELETED', (e) => e.data?.device === 'husb', 20_000);
      await q.waitMark('usb-detached', 20_000, wrote.offset);
      await q.waitMark('block-gone', 20_000, wrote.offset);
      await q.qmp('blockdev-del', { 'node-name': 'hdisk' });
      const { stdout } = await run('mtype', ['-i', img, '::GUEST.TXT']);
      assert.equal(stdout, Array.from({ length: 20000 }, (_, i) => `${i + 1}\n`).join(''));
    } finally {
      ev.close();
    }
  });

  it('stops QEMU (idempotent)', async () => {
    assert.ok(q);
    await Promise.all([q.stop(), q.stop()]);
    assert.ok(!isListening(q.port));
    assert.deepEqual(groupPids(q.pid), []);
  });

  it('serves TLS on its tls-port with the test CA\'s certificate', async () => {
    const ca = createTestCa(makeStateDir('tls'));
    const q = await startQemu({ tls: { dir: ca.dir }, password: 's3cret', waitBoot: false });
    servers.push(q);
    assert.ok(q.tlsPort && isListening(q.tlsPort));
    const spice = await q.qmp<{ 'tls-port': number; auth: string }>('query-spice');
    assert.deepEqual([spice['tls-port'], spice.auth], [q.tlsPort, 'spice']);

    const s = tlsConnect({ host: '127.0.0.1', port: q.tlsPort, ca: ca.caPem, servername: 'localhost' });
    await new Promise<void>((resolve, reject) => s.once('secureConnect', resolve).once('error', reject));
    const peer = s.getPeerCertificate();
    s.destroy();
    assert.ok(s.authorized);
    assert.deepEqual([peer.subject.C, peer.subject.O, peer.subject.CN], ['XX', 'spicectl test', 'localhost']);
    assert.deepEqual(await spiceProbe(q.tlsPort, { tls: { ca: ca.caPem } }), { major: 2, minor: 2, error: 0, authorized: true });

    // Another CA must not verify it.
    const other = createTestCa(makeStateDir('tls-other'));
    await assert.rejects(spiceProbe(q.tlsPort, { tls: { ca: other.caPem } }), /self[- ]signed|unable to verify|certificate/i);
    await q.stop();
  });
});
