#!/usr/bin/env node
// The tsinetd command. `npm run build` bundles this entry and every module it loads into one
// file, build/bin/tsinetd.mjs (scripts/bundle.mjs), which is what package.json's `bin` runs:
// one file loads with less memory than ninety modules (see README, Performance).

import { main } from './cli.js';

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`tsinetd: internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  },
);
