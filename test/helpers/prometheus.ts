// A strict reader of the Prometheus text exposition format 0.0.4 for the tests: it rejects
// what Prometheus would reject (bad names, bad escapes, unterminated label values, TYPE after
// samples, families split in two, duplicate series) and checks histograms (increasing `le`,
// non-decreasing cumulative counts, +Inf bucket equal to _count). Written from the format's
// description, independently of src/ops/metrics.ts; promtool is used too where it is installed.

import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

export interface ParsedSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface ParsedFamily {
  name: string;
  type: string;
  help: string | null;
  samples: ParsedSample[];
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*/;
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

function parseNumber(text: string, where: string): number {
  if (text === 'NaN') return NaN;
  if (text === '+Inf' || text === 'Inf') return Infinity;
  if (text === '-Inf') return -Infinity;
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text)) throw new Error(`${where}: bad number '${text}'`);
  return Number(text);
}

function unescapeHelp(text: string, where: string): string {
  return text.replace(/\\(.)?/g, (_m, c: string | undefined) => {
    if (c === '\\') return '\\';
    if (c === 'n') return '\n';
    throw new Error(`${where}: bad escape in HELP`);
  });
}

/** Reads `{a="b",...}` from `line` at `pos`; returns the labels and the position after `}`. */
function readLabels(line: string, pos: number, where: string): [Record<string, string>, number] {
  const labels: Record<string, string> = {};
  let i = pos + 1;
  for (;;) {
    if (line[i] === '}') return [labels, i + 1];
    const m = LABEL_NAME.exec(line.slice(i));
    if (m === null) throw new Error(`${where}: bad label name at column ${i + 1}`);
    const name = m[0];
    i += name.length;
    if (line[i] !== '=' || line[i + 1] !== '"') throw new Error(`${where}: expected =" after label ${name}`);
    i += 2;
    let value = '';
    for (;;) {
      const c = line[i];
      if (c === undefined) throw new Error(`${where}: unterminated value of label ${name}`);
      if (c === '"') break;
      if (c === '\\') {
        const e = line[i + 1];
        if (e === '\\') value += '\\';
        else if (e === '"') value += '"';
        else if (e === 'n') value += '\n';
        else throw new Error(`${where}: bad escape \\${e ?? ''} in label ${name}`);
        i += 2;
      } else {
        value += c;
        i++;
      }
    }
    i++;
    if (name in labels) throw new Error(`${where}: label ${name} given twice`);
    labels[name] = value;
    if (line[i] === ',') i++;
    else if (line[i] !== '}') throw new Error(`${where}: expected , or } after label ${name}`);
  }
}

function familyOf(sampleName: string, families: Map<string, ParsedFamily>): string {
  for (const suffix of ['_bucket', '_sum', '_count']) {
    if (sampleName.endsWith(suffix)) {
      const base = sampleName.slice(0, -suffix.length);
      const t = families.get(base)?.type;
      if (t === 'histogram' || (t === 'summary' && suffix !== '_bucket')) return base;
    }
  }
  return sampleName;
}

function checkHistogram(f: ParsedFamily): void {
  const groups = new Map<string, { buckets: Array<[number, number]>; count: number | null }>();
  const keyOf = (labels: Record<string, string>): string =>
    JSON.stringify(
      Object.entries(labels)
        .filter(([k]) => k !== 'le')
        .sort(([a], [b]) => (a < b ? -1 : 1)),
    );
  for (const s of f.samples) {
    const key = keyOf(s.labels);
    const g = groups.get(key) ?? { buckets: [], count: null };
    groups.set(key, g);
    if (s.name === `${f.name}_bucket`) {
      const le = s.labels['le'];
      if (le === undefined) throw new Error(`${f.name}: bucket without le`);
      g.buckets.push([parseNumber(le, f.name), s.value]);
    } else if (s.name === `${f.name}_count`) g.count = s.value;
    else if (s.name !== `${f.name}_sum`) throw new Error(`${f.name}: unexpected sample ${s.name} in a histogram`);
  }
  for (const g of groups.values()) {
    if (g.buckets.length === 0 || g.buckets[g.buckets.length - 1]![0] !== Infinity) throw new Error(`${f.name}: no +Inf bucket`);
    for (let i = 1; i < g.buckets.length; i++) {
      if (!(g.buckets[i]![0] > g.buckets[i - 1]![0])) throw new Error(`${f.name}: le not increasing`);
      if (g.buckets[i]![1] < g.buckets[i - 1]![1]) throw new Error(`${f.name}: cumulative counts decrease`);
    }
    if (g.count !== g.buckets[g.buckets.length - 1]![1]) throw new Error(`${f.name}: _count differs from the +Inf bucket`);
  }
}

/** Parses (and checks) an exposition; throws with the line number on the first problem. */
export function parsePrometheusText(text: string): Map<string, ParsedFamily> {
  const families = new Map<string, ParsedFamily>();
  if (text === '') return families;
  if (!text.endsWith('\n')) throw new Error('the exposition does not end with a newline');
  const seen = new Set<string>();
  const closed = new Set<string>();
  let current: string | null = null;
  const family = (name: string): ParsedFamily => {
    let f = families.get(name);
    if (f === undefined) {
      f = { name, type: 'untyped', help: null, samples: [] };
      families.set(name, f);
    }
    return f;
  };
  const enter = (name: string, where: string): void => {
    if (current === name) return;
    if (closed.has(name)) throw new Error(`${where}: family ${name} is split in two`);
    if (current !== null) closed.add(current);
    current = name;
  };
  const lines = text.slice(0, -1).split('\n');
  lines.forEach((line, index) => {
    const where = `line ${index + 1}`;
    if (line.trim() === '') return;
    if (line.startsWith('#')) {
      const m = /^#\s+(HELP|TYPE)\s+(\S+)(?:\s(.*))?$/.exec(line);
      if (m === null) return; // a plain comment
      const [, kind, name, rest] = m;
      if (!METRIC_NAME.test(name!) || METRIC_NAME.exec(name!)![0] !== name) throw new Error(`${where}: bad metric name ${name}`);
      enter(name, where);
      const f = family(name);
      if (kind === 'HELP') {
        if (f.help !== null) throw new Error(`${where}: second HELP for ${name}`);
        f.help = unescapeHelp(rest ?? '', where);
      } else {
        if (f.samples.length > 0) throw new Error(`${where}: TYPE of ${name} after its samples`);
        if (f.type !== 'untyped' || !TYPES.has((rest ?? '').trim())) throw new Error(`${where}: bad or second TYPE for ${name}`);
        f.type = rest!.trim();
      }
      return;
    }
    const m = METRIC_NAME.exec(line);
    if (m === null) throw new Error(`${where}: bad sample line`);
    const name = m[0];
    let pos = name.length;
    let labels: Record<string, string> = {};
    if (line[pos] === '{') [labels, pos] = readLabels(line, pos, where);
    const rest = line.slice(pos);
    const v = /^[ \t]+(\S+)(?:[ \t]+(-?\d+))?[ \t]*$/.exec(rest);
    if (v === null) throw new Error(`${where}: bad value part '${rest}'`);
    const base = familyOf(name, families);
    enter(base, where);
    const series = `${name}${JSON.stringify(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : 1)))}`;
    if (seen.has(series)) throw new Error(`${where}: duplicate series ${name}`);
    seen.add(series);
    family(base).samples.push({ name, labels, value: parseNumber(v[1]!, where) });
  });
  for (const f of families.values()) if (f.type === 'histogram') checkHistogram(f);
  return families;
}

/** The value of one series, or undefined. */
export function sampleValue(families: Map<string, ParsedFamily>, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const f of families.values()) {
    for (const s of f.samples) {
      if (s.name !== name) continue;
      const keys = Object.keys(s.labels);
      if (keys.length === Object.keys(labels).length && keys.every((k) => s.labels[k] === labels[k])) return s.value;
    }
  }
  return undefined;
}

/** promtool from PATH or from /opt/promtool-ref (the Debian package, unpacked), or null. */
export function findPromtool(): string | null {
  const unpacked = '/opt/promtool-ref/usr/bin/promtool';
  if (existsSync(unpacked)) return unpacked;
  const r = spawnSync('sh', ['-c', 'command -v promtool'], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
}

/** `promtool check metrics` on `text`: null when it accepts it, else its complaint. */
export function promtoolCheck(promtool: string, text: string): string | null {
  const r = spawnSync(promtool, ['check', 'metrics'], { input: text, encoding: 'utf8', timeout: 20_000 });
  return r.status === 0 ? null : `promtool exit ${r.status}: ${r.stdout}${r.stderr}`;
}
