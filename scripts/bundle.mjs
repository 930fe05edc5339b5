#!/usr/bin/env node
// Bundles the compiled CLI (dist/src, from tsc) into dist/bundle: our ~60 modules of a command
// become a few files, so Node's module loader does not spend ~30 ms of every start resolving
// and reading them (start-up is part of every measured connect and USB recognition).
// Packages stay external (native modules, pino's workers); subcommands stay lazy (one chunk
// per dynamic import). The render worker is an entry of its own, next to the chunk that starts
// it (display-renderer.ts finds it as ./render-worker.js).
import { build } from 'esbuild';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const outdir = join(root, 'dist/bundle');
rmSync(outdir, { recursive: true, force: true });
await build({
  entryPoints: [join(root, 'dist/src/main.js'), join(root, 'dist/src/render/tui/render-worker.js')],
  outdir,
  entryNames: '[name]',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  packages: 'external',
  logLevel: 'warning',
});
