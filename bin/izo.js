#!/usr/bin/env node
// The `izo` command: runs src/cli/izo.ts through tsx, so no build step is needed after npm install.
import { register } from 'tsx/esm/api';

register();
const { main } = await import(new URL('../src/cli/izo.ts', import.meta.url).href);
process.exitCode = await main(process.argv.slice(2));
