// serviceKind(): what serves a service's clients, decided once (src/service-kind.ts), with
// xinetd's precedence; and a guard that no other module decides it again from the raw
// attributes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runsCountedServer } from '../../src/admission/limits.js';
import { newService } from '../../src/service-defaults.js';
import { servedInternally, serviceKind, startsProgram } from '../../src/service-kind.js';
import type { Service } from '../../src/table.js';

function service(attrs: Partial<Service>): Service {
  return Object.assign(newService('daytime', 'xinetd', { file: 't.conf', line: 1 }), { port: 7013 }, attrs);
}

const REDIRECT = { host: '127.0.0.1', port: 7 };

test('SENSOR first, then INTERNAL (even with a redirect or a server), then redirect, then the program', () => {
  assert.equal(serviceKind(service({ flags: ['SENSOR'], type: [] })), 'sensor');
  assert.equal(serviceKind(service({ flags: ['SENSOR'], type: ['INTERNAL'], redirect: REDIRECT })), 'sensor');
  assert.equal(serviceKind(service({ type: ['INTERNAL', 'UNLISTED'], redirect: REDIRECT })), 'internal');
  assert.equal(serviceKind(service({ type: ['UNLISTED'], redirect: REDIRECT, server: '/bin/cat' })), 'redirect');
  assert.equal(serviceKind(service({ type: [], server: '/bin/cat' })), 'program');
  assert.equal(startsProgram(service({ server: '/bin/cat' })), true);
  assert.equal(startsProgram(service({ server: null })), false);
  assert.equal(startsProgram(service({ type: ['INTERNAL'], server: '/bin/cat' })), false);
  assert.equal(servedInternally(service({ flags: ['SENSOR'] })), true);
  assert.equal(servedInternally(service({ redirect: REDIRECT })), false);
});

test('counted servers follow the kind: programs and redirects always; builtins only those xinetd forks; never the sensor', () => {
  assert.equal(runsCountedServer(service({ server: '/bin/cat' })), true);
  assert.equal(runsCountedServer(service({ redirect: REDIRECT })), true);
  assert.equal(runsCountedServer(service({ flags: ['SENSOR'] })), false);
  for (const [name, socket_type, forks] of [
    ['daytime', 'stream', false],
    ['time', 'stream', false],
    ['echo', 'stream', true],
    ['discard', 'stream', true],
    ['chargen', 'stream', true],
    ['echo', 'dgram', false],
    ['daytime', 'dgram', false],
  ] as const) {
    assert.equal(runsCountedServer(Object.assign(service({ type: ['INTERNAL'], socket_type }), { name })), forks, `${name}/${socket_type}`);
  }
  // xinetd serves an internal daytime that names a redirect itself, without a fork: not counted.
  assert.equal(runsCountedServer(service({ type: ['INTERNAL'], redirect: REDIRECT })), false);
});

test('no other module decides the kind from the raw type or flags', () => {
  const src = fileURLToPath(new URL('../../../src/', import.meta.url));
  const files: string[] = [];
  const walk = (dir: string): void => {
    for (const n of readdirSync(dir)) {
      const p = join(dir, n);
      if (statSync(p).isDirectory()) walk(p);
      else if (n.endsWith('.ts')) files.push(p);
    }
  };
  walk(src);
  assert.ok(files.length > 50, `the scan found ${files.length} files under ${src}`);
  const offenders = files
    .filter((f) => !f.endsWith('service-kind.ts'))
    .flatMap((f) =>
      readFileSync(f, 'utf8')
        .split('\n')
        .map((line, i) => ({ line, at: `${f.slice(src.length)}:${i + 1}` }))
        .filter(({ line }) => /\b(type|flags)\.includes\('(INTERNAL|SENSOR)'\)/.test(line))
        .map(({ at }) => at),
    );
  assert.deepEqual(offenders, []);
});
