// `spicectl bench shaper` as a user runs it (the built program): a standalone link emulator.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { BIN } from '../e2e/spicectl.js';
import { repoRoot } from '../e2e/harness/index.js';

const tmp = mkdtempSync(join(tmpdir(), 'spicectl-shaper-cli-'));
const echo = net.createServer((s) => s.pipe(s));
after(() => echo.close());

/** The spicectl binary once main.ts registers `bench`; until then dist's program + registerBench. */
async function cli(): Promise<string[]> {
  const probe = await new Promise<string>((resolve) => {
    const p = spawn(process.execPath, [BIN, 'bench', '--help'], { stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.on('close', () => resolve(out));
  });
  if (/shaper/.test(probe)) return [BIN];
  const wrapper = join(tmp, 'spicectl-with-bench.mjs');
  const dist = (p: string) => pathToFileURL(join(repoRoot, 'dist/src', p)).href;
  writeFileSync(wrapper, `import { buildProgram } from '${dist('main.js')}';
import { registerBench } from '${dist('commands/bench.js')}';
import { SpiceError } from '${dist('util/errors.js')}';
const program = await buildProgram(process.argv);
if (!program.commands.some((c) => c.name() === 'bench')) registerBench(program);
try { await program.parseAsync(process.argv); } catch (e) {
  if (e instanceof SpiceError) { process.stderr.write('spicectl: ' + e.message + '\\n'); process.exitCode = e.exitCode; }
  else if (typeof e?.code === 'string' && e.code.startsWith('commander.')) process.exitCode = e.exitCode === 0 ? 0 : 2;
  else throw e;
}
`);
  return [wrapper];
}

function start(args: string[]): { p: ChildProcess; out: () => string; err: () => string; done: Promise<number | null> } {
  const p = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  p.stdout!.on('data', (d) => (out += d));
  p.stderr!.on('data', (d) => (err += d));
  const done = new Promise<number | null>((r) => p.on('close', (c) => r(c)));
  return { p, out: () => out, err: () => err, done };
}

async function until(fn: () => RegExpMatchArray | null, ms = 15_000): Promise<RegExpMatchArray> {
  const end = Date.now() + ms;
  for (;;) {
    const m = fn();
    if (m) return m;
    if (Date.now() > end) throw new Error('timeout');
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function echoThrough(port: number, bytes: number): Promise<number> {
  const c = net.connect(port, '127.0.0.1');
  await new Promise((r) => c.once('connect', r));
  const t0 = performance.now();
  let got = 0;
  const done = new Promise<void>((r) => c.on('data', (d) => (got += d.length) >= bytes && r()));
  c.write(Buffer.alloc(bytes, 7));
  await done;
  c.destroy();
  return performance.now() - t0;
}

test('bench shaper: forwards at the rate, prints its port, and the counters on SIGTERM (JSON)', async () => {
  await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
  const target = (echo.address() as net.AddressInfo).port;
  const s = start([...(await cli()), 'bench', 'shaper', '--target', String(target), '--rate', '100KB/s', '--json']);
  const port = Number((await until(() => s.err().match(/listening on 127\.0\.0\.1:(\d+)/)))[1]);
  // 60 kB each way at 100 kB/s per direction: ~0.5 s (the directions overlap)
  const ms = await echoThrough(port, 60_000);
  assert.ok(ms > 350 && ms < 1500, `${ms.toFixed(0)} ms`);
  s.p.kill('SIGTERM');
  assert.equal(await s.done, 0, s.err());
  const j = JSON.parse(s.out());
  assert.equal(j.listen, port);
  assert.equal(j.target, `127.0.0.1:${target}`);
  assert.equal(j.rate, 100_000);
  assert.equal(j.connections, 1);
  assert.equal(j.up, 60_000);
  assert.equal(j.down, 60_000);
});

test('bench shaper: text mode, a fixed port, unlimited', async () => {
  const target = (echo.address() as net.AddressInfo).port;
  const free = await new Promise<number>((resolve) => {
    const t = net.createServer().listen(0, '127.0.0.1', () => {
      const p = (t.address() as net.AddressInfo).port;
      t.close(() => resolve(p));
    });
  });
  const s = start([...(await cli()), 'bench', 'shaper', '--target', `127.0.0.1:${target}`, '--listen', String(free), '--rate', 'none']);
  await until(() => s.out().match(/^listening on 127\.0\.0\.1:\d+ -> 127\.0\.0\.1:\d+, down unlimited, up unlimited, delay 0 ms\n/));
  assert.match(s.out(), new RegExp(`127\\.0\\.0\\.1:${free} ->`));
  await echoThrough(free, 1_000_000);
  s.p.kill('SIGINT');
  assert.equal(await s.done, 0, s.err());
  assert.match(s.out(), /\ntotal t=\d+\.\ds connections=1 active=[01] up=1\.00 MB \(\d+ B\/s\) down=1\.00 MB/);
});

test('bench shaper: usage errors', async () => {
  const none = start([...(await cli()), 'bench', 'shaper']);
  assert.equal(await none.done, 2);
  assert.match(none.err(), /--target/);
  const bad = start([...(await cli()), 'bench', 'shaper', '--target', 'x:y']);
  assert.equal(await bad.done, 2);
  assert.match(bad.err(), /not a target/);
  const rate = start([...(await cli()), 'bench', 'shaper', '--target', '5930', '--rate', 'fast']);
  assert.equal(await rate.done, 2);
  assert.match(rate.err(), /not a rate/);
});
