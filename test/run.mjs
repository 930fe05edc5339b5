#!/usr/bin/env node
// Test runner: node's own runner over the files it finds (Node 20 does not expand globs).
//   node test/run.mjs            unit tests, then end-to-end tests against real servers
//   node test/run.mjs unit|e2e   one group only
//   node test/run.mjs FILE...    just these files
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const testDir = join(root, 'test');

function find(dir) {
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...find(p));
    else if (name.endsWith('.test.ts') || name.endsWith('.test.tsx')) out.push(p);
  }
  return out;
}

const args = process.argv.slice(2);
const all = find(testDir);
const isE2e = (f) => relative(testDir, f).startsWith('e2e');
const groups = [];
if (args.length && args[0] !== 'unit' && args[0] !== 'e2e') {
  groups.push({ name: 'selected', files: args, serial: args.some((f) => f.includes('e2e')) });
} else {
  if (!args.length || args[0] === 'unit') groups.push({ name: 'unit', files: all.filter((f) => !isE2e(f)), serial: false });
  if (!args.length || args[0] === 'e2e') groups.push({ name: 'e2e', files: all.filter(isE2e), serial: true });
}

let failed = false;
for (const g of groups) {
  if (!g.files.length) continue;
  console.log(`\n# ${g.name}: ${g.files.length} file(s)`);
  const flags = ['--import', 'tsx', '--test', '--test-force-exit'];
  // End-to-end files share real servers and a guest boot: one file at a time.
  if (g.serial) flags.push('--test-concurrency=1');
  const r = spawnSync(process.execPath, [...flags, ...g.files], { stdio: 'inherit', cwd: root });
  if (r.status !== 0) failed = true;
}
process.exit(failed ? 1 : 0);
