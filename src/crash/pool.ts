/**
 * pool.ts: running a crash-harness plan on worker threads, with results merged in index order.
 *
 * Layer: user space harness (src/crash/; the one place besides worker.ts allowed real threads).
 * Interface: `runPool(plan, indexes, jobs, onProgress)` checks every workload index, on `jobs`
 * worker threads (jobs 1: in this thread), handing out one index at a time to whichever worker is
 * free, and resolves to the results sorted by index. Invariant: the output is the same for any
 * `jobs`, because a result depends only on (plan, index) and the merge is by index, never by
 * arrival. Workers start through worker_boot.js, which loads TypeScript with tsx as bin/izo.js
 * does, so this works from `node bin/izo.js crashtest` and from vitest alike.
 */
import { Worker } from 'node:worker_threads';
import type { WorkloadResult } from './check.ts';
import { runOne, type RunPlan } from './run.ts';

export type Progress = (done: number, total: number, violations: number) => void;

function violationsOf(r: WorkloadResult): number {
  return Object.values(r.counts).reduce((a, b) => a + (b ?? 0), 0);
}

export async function runPool(
  plan: RunPlan, indexes: readonly number[], jobs: number, onProgress: Progress = () => {},
): Promise<WorkloadResult[]> {
  const results: WorkloadResult[] = [];
  let bad = 0;
  if (jobs <= 1 || indexes.length <= 1) {
    for (const i of indexes) {
      const r = runOne(plan, i);
      results.push(r);
      bad += violationsOf(r);
      onProgress(results.length, indexes.length, bad);
    }
    return results;
  }
  const queue = [...indexes];
  const workers = Array.from({ length: Math.min(jobs, indexes.length) }, () =>
    new Worker(new URL('./worker_boot.js', import.meta.url), { workerData: plan }));
  try {
    await new Promise<void>((resolve, reject) => {
      const feed = (w: Worker): void => {
        const next = queue.shift();
        if (next !== undefined) w.postMessage({ index: next });
        else if (results.length === indexes.length) resolve();
      };
      for (const w of workers) {
        w.on('message', (m: { index: number; result: WorkloadResult }) => {
          results.push(m.result);
          bad += violationsOf(m.result);
          onProgress(results.length, indexes.length, bad);
          feed(w);
        });
        w.on('error', reject);
        w.on('exit', (code) => {
          if (results.length < indexes.length) reject(new Error(`a crash-harness worker exited (${code}) early`));
        });
        feed(w);
      }
    });
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
  return results.sort((a, b) => a.index - b.index);
}
