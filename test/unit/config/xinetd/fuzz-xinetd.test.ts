// Fuzzing the xinetd configuration loader (the whole tree: main file, include, includedir) with
// generated and mutated configurations: it never throws, never hangs, and locates every
// diagnostic inside a file it read. See test/helpers/config-fuzz.ts for the properties.
// FUZZ_RUNS=N raises the number of inputs; FUZZ_SEED=S replays a failing campaign.

import { test } from 'node:test';
import { seedTexts } from '../../../helpers/config-fuzz.js';
import { fuzzRuns, runCampaign } from '../../../helpers/fuzz-run.js';

test('generated xinetd configuration trees load without throwing, hanging or misplacing a diagnostic', async (t) => {
  const r = await runCampaign({ kind: 'xinetd-generated', numRuns: fuzzRuns(300), deadlineMs: 60_000 + fuzzRuns(300) * 100 });
  t.diagnostic(`seed ${r.seed}, ${r.inputs} inputs`);
});

test('mutated real xinetd configurations (fixtures, and the shared corpus when present) load the same way', async (t) => {
  if (!seedTexts('xinetd').corpus) t.diagnostic('../shared/corpus is absent: mutating the repository fixtures only');
  const r = await runCampaign({ kind: 'xinetd-mutated', numRuns: fuzzRuns(300), deadlineMs: 60_000 + fuzzRuns(300) * 100 });
  t.diagnostic(`seed ${r.seed}, ${r.inputs} inputs`);
});
