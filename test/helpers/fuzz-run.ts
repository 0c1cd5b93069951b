// Runs a fuzzing campaign (config-fuzz.ts) in a worker thread with a deadline, for the
// test/unit/fuzz-*.test.ts files. Knobs: FUZZ_RUNS (inputs per campaign, default per test),
// FUZZ_SEED (replay a campaign: fast-check prints the seed of a failing one).

import { Worker } from 'node:worker_threads';
import type { FuzzKind } from './config-fuzz.js';

export interface Campaign {
  kind: FuzzKind;
  numRuns: number;
  /** The whole campaign must end within this time, or the input being loaded is reported as hanging. */
  deadlineMs: number;
}

export function fuzzRuns(defaultRuns: number): number {
  const n = Number(process.env['FUZZ_RUNS']);
  return Number.isInteger(n) && n > 0 ? n : defaultRuns;
}

export function fuzzSeed(): number {
  const n = Number(process.env['FUZZ_SEED']);
  return Number.isInteger(n) ? n : (Math.random() * 2 ** 31) | 0;
}

/** Resolves when the campaign passes; rejects with fast-check's report, or with the hanging input. */
export function runCampaign(c: Campaign): Promise<{ seed: number; inputs: number }> {
  const seed = fuzzSeed();
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL('./fuzz-worker.js', import.meta.url), { workerData: { kind: c.kind, numRuns: c.numRuns, seed } });
    let last = '';
    let inputs = 0;
    let settled = false;
    const settle = (err: Error | null): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      void worker.terminate();
      if (err === null) resolve({ seed, inputs });
      else reject(err);
    };
    const timer = setTimeout(() => {
      settle(new Error(`${c.kind}: not finished after ${c.deadlineMs} ms (seed ${seed}, ${inputs} inputs); the load of this input may never return:\n${last}`));
    }, c.deadlineMs);
    worker.on('message', (m: { type: string; input?: string; message?: string }) => {
      if (m.type === 'input') {
        inputs++;
        last = m.input ?? '';
      } else if (m.type === 'done') settle(null);
      else settle(new Error(`${c.kind} (seed ${seed}): ${m.message ?? 'failed'}`));
    });
    worker.on('error', (err) => settle(err));
    worker.on('exit', (code) => settle(new Error(`${c.kind}: the fuzzing worker exited (${code}) before it finished`)));
  });
}
