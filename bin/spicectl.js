#!/usr/bin/env node
// dist/bundle: the compiled CLI bundled by scripts/bundle.mjs (npm run build).
import { main } from '../dist/bundle/main.js';

main(process.argv).then((code) => {
  process.exitCode = code;
  // Let stdout drain, then leave even if a socket lingers.
  setTimeout(() => process.exit(code), 50).unref();
});
