#!/usr/bin/env node
// The `izo` command (package.json "bin"). A plain-JS launcher so that it works right after
// `npm install`, with no build step: it registers tsx's loader, then runs src/cli/izo.ts (found
// relative to this file, wherever it is linked from) with the command-line arguments, and exits
// with the status the subcommand returns. Everything else lives in src/cli/.
import { register } from 'tsx/esm/api';

register();
// A reader that stops early (`izo help | head -1`) closes the pipe: stop quietly, as a C program
// killed by SIGPIPE would, instead of an unhandled EPIPE error with its stack.
process.stdout.on('error', (e) => {
  if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw e;
});
const { main } = await import(new URL('../src/cli/izo.ts', import.meta.url).href);
process.exitCode = await main(process.argv.slice(2));
