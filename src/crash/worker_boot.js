// The crash harness's worker thread entry (plain JS, like bin/izo.js): a worker is a fresh Node
// thread that knows no TypeScript, so it registers tsx's loader first, then runs worker.ts. The
// pool (pool.ts) starts it; the same file serves `node bin/izo.js crashtest` and vitest.
import { register } from 'tsx/esm/api';

register();
await import(new URL('./worker.ts', import.meta.url).href);
