// Fuzzing the inetd.conf loader in every dialect (auto, OpenBSD family, FreeBSD) with generated
// and mutated files: it never throws, never hangs, and locates every diagnostic inside the file.
// See test/helpers/config-fuzz.ts for the properties. FUZZ_RUNS=N, FUZZ_SEED=S as for xinetd.

import { test } from 'node:test';
import { seedTexts } from '../../../helpers/config-fuzz.js';
import { fuzzRuns, runCampaign } from '../../../helpers/fuzz-run.js';

test('generated inetd.conf files load without throwing, hanging or misplacing a diagnostic', async (t) => {
  const r = await runCampaign({ kind: 'inetd-generated', numRuns: fuzzRuns(500), deadlineMs: 60_000 + fuzzRuns(500) * 100 });
  t.diagnostic(`seed ${r.seed}, ${r.inputs} inputs`);
});

test('mutated real inetd.conf files (fixtures, and the shared corpus when present) load the same way', async (t) => {
  if (!seedTexts('inetd').corpus) t.diagnostic('../shared/corpus is absent: mutating the repository fixtures only');
  const r = await runCampaign({ kind: 'inetd-mutated', numRuns: fuzzRuns(500), deadlineMs: 60_000 + fuzzRuns(500) * 100 });
  t.diagnostic(`seed ${r.seed}, ${r.inputs} inputs`);
});
