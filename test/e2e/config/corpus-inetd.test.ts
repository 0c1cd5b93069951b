// The shared corpus of real inetd.conf files (../shared/corpus/inetd/, beside the repository):
// every file loads without a crash, every entry becomes a Service or a located diagnostic, and
// what we make of each file is compared with what Debian's openbsd-inetd made of it (the `ADD:`
// and `REDO:` lines of `inetd -d`, recorded in expected/inetd/*.json runs.openbsd_inetd).
// Uses the machine's /etc/services, as inetd did on the machine that recorded the corpus.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadInetdFile, type InetdLoadResult } from '../../../src/config/inetd/inetd.js';
import { parseInetdText } from '../../../src/config/inetd/inetd-syntax.js';
import type { Service } from '../../../src/table.js';

const REPO_ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
const CORPUS = join(REPO_ROOT, '..', 'shared', 'corpus');
const SKIP = existsSync(join(CORPUS, 'inetd')) ? false : `shared corpus not found at ${CORPUS} (it lives beside the repository)`;

interface OpenbsdEntry {
  action: string;
  service: string;
  proto: string;
  'wait.max': string;
  'user:group': string;
  builtin: string;
  server: string;
}

function corpusFiles(): string[] {
  return readdirSync(join(CORPUS, 'inetd')).sort();
}

function expectedEntries(file: string): OpenbsdEntry[] | null {
  const path = join(CORPUS, 'expected', 'inetd', `${file}.json`);
  if (!existsSync(path)) return null;
  const json = JSON.parse(readFileSync(path, 'utf8')) as { runs?: { openbsd_inetd?: { entries?: OpenbsdEntry[] } } };
  return json.runs?.openbsd_inetd?.entries ?? null;
}

/** Entry lines that produced neither a Service nor a diagnostic on their lines. */
function silentEntries(path: string, text: string, r: InetdLoadResult): number[] {
  const out: number[] = [];
  for (const node of parseInetdText(path, text, r.dialect === 'freebsd').nodes) {
    if (node.kind !== 'entry') continue;
    const first = node.line;
    const last = node.continuations.at(-1)?.line ?? first;
    if (node.words.length === 1 && node.words[0]!.text.endsWith(':')) continue; // default-host line
    const served = r.services.some((s) => s.source.line === first);
    const said =
      r.diagnostics.some((d) => d.line >= first && d.line <= last) || r.diagnostics.some((d) => d.message.includes(`replaces the one of line ${first} `));
    if (!served && !said) out.push(first);
  }
  return out;
}

/**
 * Our Service as openbsd-inetd prints it. A dual-stack service is its two sockets (`tcp` and
 * `tcp6`). Internal services are compared with wait 0, as inetd forces it (we keep dgram
 * builtins `wait`, which is how they behave).
 */
function asOpenbsd(s: Service): string[] {
  const host = s.bind === null ? '' : `${s.bind}:`;
  const internal = s.type.includes('INTERNAL');
  const wait = internal ? 0 : s.wait ? 1 : 0;
  const rest = `wait.max=${wait}.${s.inetd_rate?.max} user:group=${s.user}:${s.group ?? '(default)'} builtin=${internal ? 'yes' : '0'} server=${internal ? 'internal' : s.server}`;
  const protos = s.flags.includes('IPv4') ? [s.protocol] : s.flags.includes('IPv6') ? [`${s.protocol}6`] : [s.protocol, `${s.protocol}6`];
  return protos.map((p) => `${host}${s.name} proto=${p} ${rest}`);
}

/** openbsd-inetd's final table: ADD, then REDO replacing the entry with the same service and proto. */
function openbsdTable(entries: OpenbsdEntry[]): string[] {
  const table = new Map<string, string>();
  for (const e of entries) {
    if (e.action !== 'ADD' && e.action !== 'REDO') continue;
    // tcp46 is one dual-stack socket: count it as the tcp + tcp6 pair we produce.
    const protos = /46$/.test(e.proto) ? [e.proto.slice(0, -2), `${e.proto.slice(0, -2)}6`] : [e.proto.replace(/4$/, '')];
    const builtin = e.builtin === '0' ? '0' : 'yes';
    for (const p of protos) {
      table.set(`${e.service} ${p}`, `${e.service} proto=${p} wait.max=${e['wait.max']} user:group=${e['user:group']} builtin=${builtin} server=${e.server}`);
    }
  }
  return [...table.values()];
}

test('every corpus inetd.conf loads without a crash, and no entry vanishes silently', { skip: SKIP }, (t) => {
  let files = 0;
  let services = 0;
  let diagnostics = 0;
  for (const name of corpusFiles()) {
    const path = join(CORPUS, 'inetd', name);
    const text = readFileSync(path, 'utf8');
    const r = loadInetdFile(path);
    files++;
    services += r.services.length;
    diagnostics += r.diagnostics.length;
    assert.deepEqual(silentEntries(path, text, r), [], `${name}: entries with neither a service nor a diagnostic`);
    for (const d of r.diagnostics) {
      assert.equal(d.file, path);
      assert.ok(d.line >= 1 && d.column >= 1, `${name}: diagnostic without a position: ${d.message}`);
    }
    const ids = r.services.map((s) => s.id);
    assert.equal(new Set(ids).size, ids.length, `${name}: duplicate ids ${ids.join(' ')}`);
  }
  assert.ok(files >= 30, `only ${files} corpus files`);
  t.diagnostic(`${files} files, ${services} services, ${diagnostics} diagnostics`);
});

test('what we make of each file matches openbsd-inetd (service, proto, wait.max, user:group, builtin, server)', { skip: SKIP }, (t) => {
  let expectedTotal = 0;
  let matched = 0;
  let unknownOrUnsupported = 0;
  let dialectDifference = 0;
  const unexplained: string[] = [];
  const perDialect = { openbsd: [0, 0], freebsd: [0, 0], gnu: [0, 0] };
  for (const name of corpusFiles()) {
    const entries = expectedEntries(name);
    if (entries === null) continue;
    const path = join(CORPUS, 'inetd', name);
    const r = loadInetdFile(path);
    const ours = new Set(r.services.flatMap(asOpenbsd));
    const theirs = openbsdTable(entries);
    // "unknown service" on this machine: inetd prints ADD before it looks the port up.
    const unknownHere = new Set(r.diagnostics.map((d) => /^unknown service `([^/`]+)\//.exec(d.message)?.[1]).filter((n): n is string => n !== undefined));
    const unsupported = r.diagnostics.some((d) => d.message.includes('not supported by tsinetd'));
    for (const line of theirs) {
      expectedTotal++;
      perDialect[r.dialect][1]!++;
      if (ours.has(line)) {
        matched++;
        perDialect[r.dialect][0]!++;
        continue;
      }
      const service = line.split(' ')[0]!.replace(/^.*:/, '');
      if (unknownHere.has(service) || (unsupported && / proto=unix /.test(line))) unknownOrUnsupported++;
      // Read as FreeBSD, a plain `tcp`/`udp` line is IPv4 only: openbsd-inetd's IPv6 half is absent.
      else if (r.dialect === 'freebsd' && ours.has(line.replace(/ proto=(tcp|udp)6 /, ' proto=$1 '))) dialectDifference++;
      else unexplained.push(`${name}: ${line}`);
    }
  }
  const rate = expectedTotal === 0 ? 1 : matched / expectedTotal;
  t.diagnostic(
    `openbsd-inetd entries matched: ${matched}/${expectedTotal} (${(rate * 100).toFixed(1)}%); ` +
      `not in this machine's /etc/services or unsupported (unix): ${unknownOrUnsupported}; ` +
      `IPv6 halves of plain tcp in files read as FreeBSD: ${dialectDifference}; ` +
      `files read as OpenBSD: ${perDialect.openbsd[0]}/${perDialect.openbsd[1]}, as FreeBSD: ${perDialect.freebsd[0]}/${perDialect.freebsd[1]}`,
  );
  assert.deepEqual(unexplained, []);
  assert.ok(expectedTotal > 200, `only ${expectedTotal} expected entries`);
});
