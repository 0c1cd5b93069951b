// collectAfterLoading() (src/app/heap-tuning.ts) in a fresh Node process: after a load-like burst
// (many short-lived objects, a few of them kept, scattered over the old generation's pages),
// the old generation V8 keeps committed shrinks to a fraction of what it was; told to keep V8's defaults,
// it does nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';

const moduleUrl = new URL('../../../src/app/heap-tuning.js', import.meta.url).href;

interface Outcome {
  ran: boolean;
  before: number;
  after: number;
  kept: number;
}

function burstThenCollect(keepV8Defaults: boolean): Outcome {
  const script = `
    const { getHeapSpaceStatistics } = await import('node:v8');
    const oldSpace = () => getHeapSpaceStatistics().find((s) => s.space_name === 'old_space').physical_space_size;
    const { collectAfterLoading } = await import(${JSON.stringify(moduleUrl)});
    // Like a configuration load: located nodes by the hundred thousand, one in 50 kept.
    const kept = [];
    for (let round = 0; round < 40; round++) {
      const tree = [];
      for (let i = 0; i < 25000; i++) tree.push({ text: 'w' + i, loc: { file: 'f', line: i, column: 1, offset: i, endLine: i, endColumn: 2, endOffset: i + 1 } });
      for (let i = 0; i < tree.length; i += 50) kept.push(tree[i]);
    }
    await new Promise((r) => setTimeout(r, 50));
    const before = oldSpace();
    const ran = await collectAfterLoading({ keepV8Defaults: ${String(keepV8Defaults)} });
    await new Promise((r) => setTimeout(r, 50));
    const after = oldSpace();
    process.stdout.write(JSON.stringify({ ran, before, after, kept: kept.length }));
  `;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as Outcome;
}

test('a full collection after loading gives most of the committed heap back', () => {
  const o = burstThenCollect(false);
  assert.equal(o.ran, true);
  assert.equal(o.kept, 20000);
  assert.ok(o.after * 2 < o.before, `old space ${o.before} -> ${o.after} bytes`);
});

test('TSINETD_V8_DEFAULTS=1: no collection', () => {
  const o = burstThenCollect(true);
  assert.equal(o.ran, false);
});
