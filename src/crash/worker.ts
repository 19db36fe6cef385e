/**
 * worker.ts: one worker thread of the crash harness: checks the workloads it is sent, one message
 * each, and answers with their results.
 *
 * Layer: user space harness (src/crash/), run in a worker thread by pool.ts (through
 * worker_boot.js, which registers the TypeScript loader). Interface: messages in are
 * `{ index }` (check workload `index` of the plan given as workerData) or `{ stop: true }`;
 * messages out are `{ index, result }`. It keeps nothing between workloads, so a result depends only
 * on the plan and the index: the same on any worker, in any order.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { runOne, type RunPlan } from './run.ts';

const plan = workerData as RunPlan;
const port = parentPort;
if (port === null) throw new Error('worker.ts runs only as a worker thread');
port.on('message', (m: { index?: number; stop?: boolean }) => {
  if (m.stop === true || m.index === undefined) {
    port.close();
    return;
  }
  port.postMessage({ index: m.index, result: runOne(plan, m.index) });
});
