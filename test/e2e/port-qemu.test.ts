// Port channels end to end: QEMU spiceport chardevs. One carries QEMU's human monitor (-mon
// chardev=...,mode=readline), one a guest virtio-serial port. spicectl lists them and bridges
// the monitor to stdin/stdout: "info version" goes in, QEMU's version comes back.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { startQemu, type QemuServer } from './harness/index.js';
import { spicectl } from './spicectl.js';

const MONITOR = 'org.spicectl.test';
const OTHER = 'org.spicectl.serial';

describe('port channels (QEMU spiceport)', () => {
  let q: QemuServer;
  let uri: string;
  before(async () => {
    q = await startQemu({
      waitBoot: false,
      extraArgs: [
        '-chardev', `spiceport,id=p0,name=${MONITOR}`, '-mon', 'chardev=p0,mode=readline',
        '-chardev', `spiceport,id=p1,name=${OTHER}`, '-device', `virtserialport,bus=vser0.0,chardev=p1,name=${OTHER}`,
      ],
    });
    uri = `spice://127.0.0.1:${q.port}`;
  });
  after(() => q?.stop());

  test('without NAME: the named ports, and whether their front end is open', async () => {
    const r = await spicectl(['port', uri, '--json', '--timeout', '30']);
    assert.equal(r.code, 0, r.stderr);
    const ports = JSON.parse(r.stdout).ports as { name: string; opened: boolean }[];
    const byName = Object.fromEntries(ports.map((p) => [p.name, p.opened]));
    assert.deepEqual(Object.keys(byName).sort(), [OTHER, MONITOR].sort());
    assert.equal(byName[MONITOR], true, 'the monitor holds its chardev open');
    const text = await spicectl(['port', uri, '--timeout', '30']);
    assert.match(text.stdout, new RegExp(`^${MONITOR.replace(/\./g, '\\.')}\\topen\\tport:\\d+$`, 'm'));
  });

  test('NAME bridged to stdin/stdout: "info version" reaches the monitor and its answer comes back', async () => {
    const version = /QEMU emulator version (\S+)/.exec(execFileSync('qemu-system-x86_64', ['--version']).toString())![1]!;
    const r = await spicectl(['port', uri, MONITOR, '--timeout', '30'], { input: 'info version\n' });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /QEMU [\d.]+ monitor - type 'help' for more information/);
    // the monitor echoes the line (with readline redraws), then prints the version
    assert.match(r.stdout, new RegExp(`\\r\\n${version.replace(/[.+]/g, '\\$&')}[^\\n]*\\r\\n\\(qemu\\) `));
  });

  test('an unknown NAME: exit 2 naming the ports there are', async () => {
    const r = await spicectl(['port', uri, 'no.such.port', '--timeout', '30']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, new RegExp(`no port named "no\\.such\\.port" \\(it has: .*${MONITOR.replace(/\./g, '\\.')}`));
  });
});
