#!/usr/bin/env node
// Thin launcher: the CLI is compiled TypeScript in dist/.
import('../dist/src/cli/main.js').then((m) => m.main(process.argv.slice(2))).then(
  (code) => { if (typeof code === 'number') process.exitCode = code; },
  (err) => { process.stderr.write(`lvsd: ${err && err.message ? err.message : err}\n`); process.exitCode = 3; },
);
