/**
 * main.ts: `npm start`, the main job on a built-in default: today the demonstration of the layers
 * that exist (src/cli/demo.ts). `npm start -- --seed N` picks another seed.
 */
import { main } from './cli/izo.ts';

process.exitCode = await main(['demo', ...process.argv.slice(2)]);
