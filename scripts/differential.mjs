#!/usr/bin/env node
// The larger differential run against the real xinetd (issue #19; the bounded one is
// test/e2e/differential-xinetd.test.ts). Needs a build (`npm run build`), root and
// /opt/xinetd-ref/usr/sbin/xinetd (or TSINETD_XINETD_REF).
// Usage: node scripts/differential.mjs [--seed N] [--cases N] [--kinds grammar,generated,mutated] [--all]
// Prints the seed (replay with --seed), one line per case with disagreements, and the new
// disagreements in full (--all: the known ones too). Exit 1 when a disagreement is new.
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    seed: { type: 'string' },
    cases: { type: 'string', default: '100' },
    kinds: { type: 'string', default: 'grammar,generated,mutated' },
    all: { type: 'boolean', default: false },
  },
});
const diff = await import('../build/test/helpers/xinetd-diff.js');
const skip = diff.differentialSkip();
if (skip !== false) {
  process.stderr.write(`differential: cannot run: ${skip}\n`);
  process.exit(2);
}
const seed = values.seed === undefined ? (Math.random() * 2 ** 31) | 0 : Number(values.seed);
const perKind = Number(values.cases);
process.stdout.write(`differential: seed ${seed}, ${perKind} cases per kind (replay: node scripts/differential.mjs --seed ${seed} --cases ${perKind})\n`);
const counts = { cases: 0, xinetdServices: 0, agreeing: 0, known: 0, fresh: 0, hung: 0 };
const byItem = new Map();
const fresh = [];
for (const kind of values.kinds.split(',')) {
  for (const c of diff.makeCases(kind, seed, perKind)) {
    const run = await diff.runCase(c);
    counts.cases++;
    counts.xinetdServices += run.xinetd.length;
    if (run.xinetdHung) {
      counts.hung++;
      process.stdout.write(`${kind} case ${c.index}: xinetd neither started nor exited\n`);
    }
    const ds = diff.compareRun(run);
    if (ds.length === 0) {
      counts.agreeing++;
      continue;
    }
    for (const d of ds) {
      const item = diff.knownItem(d, c, run);
      if (item === null) {
        counts.fresh++;
        fresh.push(diff.describe(d, c, run));
      } else {
        counts.known++;
        byItem.set(item, (byItem.get(item) ?? 0) + 1);
        if (values.all) process.stdout.write(`KNOWN (${item})\n${diff.describe(d, c, run)}\n`);
      }
    }
    process.stdout.write(`${kind} case ${c.index}: ${ds.length} disagreement(s)\n`);
  }
}
for (const f of fresh) process.stdout.write(`NEW\n${f}\n`);
process.stdout.write(`\n${JSON.stringify(counts)}\n`);
for (const [item, n] of byItem) process.stdout.write(`  ${n} x ${item}\n`);
process.exit(counts.fresh > 0 ? 1 : 0);
