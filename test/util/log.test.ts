// The logger loads pino only when a line is logged at an enabled level; a bad level or an
// unwritable --log-file is refused up front.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createLogger, silentLogger } from '../../src/util/log.js';

const logModule = fileURLToPath(new URL('../../src/util/log.ts', import.meta.url));

/** Runs a snippet in a fresh process (tsx) and says whether pino got loaded. */
function run(body: string): { pinoLoaded: boolean; stderr: string } {
  const code = `import { createRequire } from 'node:module';
import { createLogger } from ${JSON.stringify(logModule)};
const require = createRequire(import.meta.url);
${body}
const loaded = Object.keys(require.cache).some((k) => /node_modules\\/pino\\/pino\\.js$/.test(k));
process.stdout.write(loaded ? 'loaded' : 'not loaded');`;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { encoding: 'utf8', cwd: fileURLToPath(new URL('../..', import.meta.url)) });
  assert.equal(r.status, 0, r.stderr);
  return { pinoLoaded: r.stdout === 'loaded', stderr: r.stderr };
}

test('nothing logged at an enabled level: pino is never loaded', () => {
  const r = run(`const log = createLogger({ level: 'warn' }); log.info('hidden'); log.debug({ a: 1 }, 'hidden');`);
  assert.equal(r.pinoLoaded, false);
  assert.equal(r.stderr, '');
});

test('a warning loads pino and goes to stderr as one JSON line', () => {
  const r = run(`const log = createLogger({ level: 'warn' }); log.warn({ channel: 'main' }, 'visible');`);
  assert.equal(r.pinoLoaded, true);
  const line = JSON.parse(r.stderr.trim());
  assert.equal(line.msg, 'visible');
  assert.equal(line.channel, 'main');
  assert.equal(line.level, 40);
});

test('levels: isLevelEnabled, silent, and a clear error for an unknown one', () => {
  const log = createLogger({ level: 'info' });
  assert.equal(log.isLevelEnabled('info'), true);
  assert.equal(log.isLevelEnabled('debug'), false);
  assert.equal(silentLogger.isLevelEnabled('fatal'), false);
  silentLogger.error('never shown');
  assert.throws(() => createLogger({ level: 'loud' }), /log level must be one of trace, debug, info, warn, error, fatal, silent, not "loud"/);
});

test('--log-file is opened at once (a bad path fails before any session) and receives the lines', () => {
  const dir = mkdtempSync(join(tmpdir(), 'spicectl-log-'));
  try {
    const file = join(dir, 'sub', 'spicectl.log');
    const log = createLogger({ level: 'debug', file });
    log.debug({ n: 1 }, 'to the file');
    assert.equal(JSON.parse(readFileSync(file, 'utf8').trim()).msg, 'to the file');
    writeFileSync(join(dir, 'blocker'), 'a file where a directory would have to be');
    assert.throws(() => createLogger({ file: join(dir, 'blocker', 'x.log') }));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

