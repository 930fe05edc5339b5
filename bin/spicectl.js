#!/usr/bin/env node
import { main } from '../dist/src/main.js';

main(process.argv).then((code) => {
  process.exitCode = code;
  // Let stdout drain, then leave even if a socket lingers.
  setTimeout(() => process.exit(code), 50).unref();
});
