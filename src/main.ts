/**
 * main.ts: `npm start`, the main job on a built-in default: the default scenario,
 * scenarios/laptop-disconnect.yaml, played and narrated for a learner (`izo run FILE --explain`).
 * `npm start -- --seed N` picks another seed; other `izo run` options may follow too (`--json`
 * instead of the narration, `--save-images DIR`). The demonstration of the layers that `npm start`
 * ran before scenario files existed is `izo demo`.
 */
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { main } from './cli/izo.ts';

const file = fileURLToPath(new URL('../scenarios/laptop-disconnect.yaml', import.meta.url));
const scenario = relative(process.cwd(), file);
const extra = process.argv.slice(2);
const output = extra.some((a) => a === '--json' || a === '--quiet' || a === '--explain') ? [] : ['--explain'];
process.exitCode = await main(['run', scenario, ...output, ...extra]);
