// spicectl connect against a real QEMU SPICE server (one TCG guest boot for the whole file):
// plain and TLS with a node-forge test CA, host-subject checks, passwords.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startQemu, type QemuServer } from './harness/index.js';
import { createTestCa, type TestCa } from '../helpers/test-ca.js';
import { pngDiff, spicectl } from './spicectl.js';

const tmp = mkdtempSync(join(tmpdir(), 'spicectl-qemu-'));
const PASSWORD = 'qemu-s3cret';
const env = { SPICE_PASSWORD: PASSWORD };

describe('connect to QEMU (plain and TLS)', () => {
  let q: QemuServer;
  let ca: TestCa;
  let other: TestCa;
  before(async () => {
    ca = createTestCa(join(tmp, 'pki'));
    other = createTestCa(join(tmp, 'other-pki'), { org: 'someone else' });
    // No blinking text cursor on the guest console, so two captures of it can be compared.
    q = await startQemu({ tls: { dir: ca.dir }, password: PASSWORD, append: 'vt.global_cursor_default=0' });
  });
  after(() => q?.stop());

  test('plain: --check --json reports the VM name, channels and codecs', async () => {
    const r = await spicectl(['connect', `spice://127.0.0.1:${q.port}`, '--check', '--json', '--timeout', '60'], { env });
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout);
    assert.equal(j.name, `spicectl-e2e-${q.port}`);
    assert.match(j.uuid, /^[0-9a-f-]{36}$/);
    for (const c of j.channels) assert.equal(c.tls, false);
    assert.ok(j.notOpened.some((c: { channel: string }) => c.channel.startsWith('usbredir:')), 'usbredir listed as not opened');
    assert.ok(j.display.width > 0 && j.display.height > 0);
  });

  test('TLS: spice+tls:// with the CA and the right host subject, every channel on TLS', async () => {
    const r = await spicectl(
      ['connect', `spice+tls://127.0.0.1:${q.tlsPort}`, '--ca-file', ca.caCertFile, '--host-subject', ca.subject, '--check', '--json', '--timeout', '60'],
      { env },
    );
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout);
    assert.ok(j.channels.length >= 4);
    for (const c of j.channels) assert.equal(c.tls, true, `${c.type} on TLS`);
    assert.ok(j.timings.tlsMs > 0);
  });

  test('TLS: the hostname check accepts the certificate for localhost', async () => {
    const r = await spicectl(['connect', `spice+tls://localhost:${q.tlsPort}`, '--ca-file', ca.caCertFile, '--check', '--timeout', '60'], { env });
    assert.equal(r.code, 0, r.stderr);
  });

  test('mixed: only --secure-channels use the tls-port', async () => {
    const r = await spicectl(
      ['connect', `spice://127.0.0.1?port=${q.port}&tls-port=${q.tlsPort}`, '--secure-channels', 'main,inputs', '--ca-file', ca.caCertFile,
        '--host-subject', ca.subject, '--check', '--json', '--timeout', '60'],
      { env },
    );
    assert.equal(r.code, 0, r.stderr);
    const tls = Object.fromEntries(JSON.parse(r.stdout).channels.map((c: { type: string; tls: boolean }) => [c.type, c.tls]));
    assert.deepEqual(tls, { main: true, display: false, inputs: true, cursor: false });
  });

  test('TLS: a wrong host subject exits 5', async () => {
    const r = await spicectl(
      ['connect', `spice+tls://127.0.0.1:${q.tlsPort}`, '--ca-file', ca.caCertFile, '--host-subject', 'C=XX,O=spicectl test,CN=not-this-host', '--check', '--timeout', '60'],
      { env },
    );
    assert.equal(r.code, 5, r.stderr);
    assert.match(r.stderr, /does not match --host-subject/);
  });

  test('TLS: a certificate from another CA, or no CA at all, exits 5', async () => {
    const r = await spicectl(['connect', `spice+tls://127.0.0.1:${q.tlsPort}`, '--ca-file', other.caCertFile, '--check', '--timeout', '60'], { env });
    assert.equal(r.code, 5, r.stderr);
    assert.match(r.stderr, /not signed by the given CA/);
    const r2 = await spicectl(['connect', `spice+tls://127.0.0.1:${q.tlsPort}`, '--check', '--timeout', '60'], { env });
    assert.equal(r2.code, 5, r2.stderr);
    assert.match(r2.stderr, /--ca-file/);
  });

  test('TLS: a CA file that is not a certificate exits 5', async () => {
    const r = await spicectl(['connect', `spice+tls://127.0.0.1:${q.tlsPort}`, '--ca-file', '/etc/hostname', '--check'], { env });
    assert.equal(r.code, 5, r.stderr);
    assert.match(r.stderr, /cannot use CA file/);
  });

  test('the QXL guest console equals QEMU\'s own screendump, pixel for pixel (every codec mode)', async () => {
    for (const mode of ['lz4', 'server', 'quic', 'off']) {
      const shot = join(tmp, `console-${mode}.png`);
      const ref = join(tmp, `console-${mode}-qemu.png`);
      const r = await spicectl(['connect', `spice://127.0.0.1:${q.port}`, '--preferred-compression', mode, '--screenshot', shot, '--timeout', '60'], { env });
      assert.equal(r.code, 0, r.stderr);
      await q.qmp('screendump', { filename: ref, format: 'png' });
      const d = pngDiff(shot, ref);
      assert.equal(d.differing, 0, `${mode}: ${d.differing} pixels differ`);
    }
  });

  test('QEMU with a password: none or a wrong one exits 4', async () => {
    const r = await spicectl(['connect', `spice://127.0.0.1:${q.port}`, '--check', '--timeout', '60']);
    assert.equal(r.code, 4, r.stderr);
    const r2 = await spicectl(['connect', `spice://127.0.0.1:${q.port}`, '--check', '--timeout', '60'], { env: { SPICE_PASSWORD: 'nope' } });
    assert.equal(r2.code, 4, r2.stderr);
  });
});
