// Worker-thread entry of the configuration fuzzing (config-fuzz.ts): runs one campaign and
// reports each input before loading it, then 'done' or 'fail'. The test thread stops the worker
// when it takes too long, and so can name the input whose load never returned.

import { parentPort, workerData } from 'node:worker_threads';
import { runFuzz, type FuzzKind } from './config-fuzz.js';

interface Job {
  kind: FuzzKind;
  numRuns: number;
  seed: number;
}

const job = workerData as Job;
const port = parentPort!;
try {
  runFuzz({ ...job, onInput: (input) => port.postMessage({ type: 'input', input }) });
  port.postMessage({ type: 'done' });
} catch (err) {
  port.postMessage({ type: 'fail', message: err instanceof Error ? err.message : String(err) });
}
