import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { compileAcl, compileServiceAcl, decideAccess, matchesAddress } from '../../../src/admission/acl.js';
import { formatAddress, parsePeerAddress, v4ToBig } from '../../../src/admission/acl-address.js';
import { resolveAclNames, type NameResolver } from '../../../src/admission/acl-resolver.js';

const ALL128 = (1n << 128n) - 1n;

function v4Text(n: number): string {
  return [n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff].join('.');
}

function peer(text: string): bigint {
  const a = parsePeerAddress(text);
  assert.notEqual(a, null, text);
  return a!;
}

const u32 = fc.integer({ min: 0, max: 0xffffffff });
const u128 = fc.bigInt({ min: 0n, max: ALL128 });

test('an IPv4 address inside a CIDR always matches it; one differing in the prefix never does', () => {
  fc.assert(
    fc.property(u32, fc.integer({ min: 0, max: 32 }), u32, fc.integer({ min: 0, max: 31 }), (base, prefix, noise, flip) => {
      const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
      const inside = ((base & mask) | (noise & ~mask)) >>> 0;
      const acl = compileAcl([`${v4Text(base)}/${prefix}`]);
      assert.equal(acl.problems.length, 0);
      assert.equal(matchesAddress(acl, peer(v4Text(inside))), true);
      assert.equal(matchesAddress(acl, peer(`::ffff:${v4Text(inside)}`)), true);
      if (flip >= 32 - prefix) {
        // flip one bit inside the prefix
        const outside = (inside ^ (1 << flip)) >>> 0;
        assert.equal(matchesAddress(acl, peer(v4Text(outside))), false);
      }
    }),
  );
});

test('an IPv6 address inside a CIDR always matches it; one differing in the prefix never does', () => {
  fc.assert(
    fc.property(u128, fc.integer({ min: 0, max: 128 }), u128, fc.integer({ min: 0, max: 127 }), (base, prefix, noise, flip) => {
      const mask = prefix === 0 ? 0n : (ALL128 << BigInt(128 - prefix)) & ALL128;
      const inside = (base & mask) | (noise & ~mask & ALL128);
      const acl = compileAcl([`${formatAddress(base)}/${prefix}`]);
      assert.deepEqual(acl.problems, []);
      assert.equal(matchesAddress(acl, inside), true);
      assert.equal(matchesAddress(acl, peer(formatAddress(inside))), true);
      if (flip >= 128 - prefix) {
        assert.equal(matchesAddress(acl, inside ^ (1n << BigInt(flip))), false);
      }
    }),
  );
});

/** Any entry form that does not need a name: numeric, wildcard, CIDR v4/v6, factorized, mapped. */
const entryArb: fc.Arbitrary<string> = fc.oneof(
  u32.map(v4Text),
  u32.map((n) => v4Text((n & 0xffff0000) >>> 0)),
  fc.tuple(u32, fc.integer({ min: 0, max: 32 })).map(([n, p]) => `${v4Text(n)}/${p}`),
  fc.tuple(u32, fc.integer({ min: 96, max: 128 })).map(([n, p]) => `::ffff:${v4Text(n)}/${p}`),
  u32.map((n) => `::ffff:${v4Text(n)}`),
  fc.tuple(u128, fc.integer({ min: 0, max: 128 })).map(([n, p]) => `${formatAddress(n)}/${p}`),
  fc
    .tuple(fc.array(fc.integer({ min: 0, max: 255 }), { maxLength: 3 }), fc.uniqueArray(fc.integer({ min: 0, max: 255 }), { minLength: 1, maxLength: 4 }))
    .map(([head, items]) => `${head.map((h) => `${h}.`).join('')}{${items.join(',')}}`),
  fc.constantFrom('0.0.0.0', '0', '::/0', '::1', '127.0.0.0', '10.0.0.0/8'),
);

test('an IPv4-mapped peer matches exactly when the plain IPv4 peer does (every list, both lists)', () => {
  fc.assert(
    fc.property(fc.array(entryArb, { maxLength: 5 }), fc.option(fc.array(entryArb, { maxLength: 3 })), u32, (only, deny, n) => {
      const acl = compileServiceAcl({ only_from: only, no_access: deny });
      const plain = peer(v4Text(n));
      const mapped = peer(`::ffff:${v4Text(n)}`);
      assert.equal(plain, mapped);
      assert.equal(matchesAddress(acl.onlyFrom, plain), matchesAddress(acl.onlyFrom, mapped));
      assert.deepEqual(decideAccess(acl, plain), decideAccess(acl, mapped));
      // and the hex spelling of the mapped address is the same peer
      assert.equal(peer(`::ffff:${((n >>> 16) & 0xffff).toString(16)}:${(n & 0xffff).toString(16)}`), plain);
    }),
  );
});

test('a factorized entry matches exactly what its expansion matches', () => {
  const arb = fc.tuple(
    fc.array(fc.integer({ min: 0, max: 255 }), { maxLength: 3 }),
    fc.uniqueArray(fc.integer({ min: 0, max: 255 }), { minLength: 1, maxLength: 5 }),
    fc.array(u32, { minLength: 1, maxLength: 8 }),
  );
  fc.assert(
    fc.property(arb, ([head, items, probes]) => {
      const factorized = compileAcl([`${head.map((h) => `${h}.`).join('')}{${items.join(',')}}`]);
      assert.deepEqual(factorized.problems, []);
      const prefix = 8 * (head.length + 1);
      const expansion = compileAcl(
        items.map((x) => {
          const octets = [...head, x, 0, 0, 0].slice(0, 4);
          return `${octets.join('.')}/${prefix}`;
        }),
      );
      // probes near the entry (same leading octets) as well as anywhere
      const near = probes.map((p) => {
        const item = items[p % items.length]!;
        const lead = [...head, item];
        const octets = [...lead, (p >>> 8) & 0xff, (p >>> 16) & 0xff, p & 0xff].slice(0, 4);
        return octets.join('.');
      });
      for (const text of [...near, ...probes.map(v4Text)]) {
        const a = peer(text);
        assert.equal(matchesAddress(factorized, a), matchesAddress(expansion, a), text);
      }
      for (const t of near) assert.equal(matchesAddress(factorized, peer(t)), true, t);
    }),
  );
});

test('resolveAclNames with a fake resolver: every resolved address matches, nothing else does', async () => {
  const hostArb = fc.stringMatching(/^[a-z][a-z0-9]{0,8}\.example$/);
  const addrArb = fc.oneof(u32.map(v4Text), u128.map(formatAddress));
  await fc.assert(
    fc.asyncProperty(fc.dictionary(hostArb, fc.array(addrArb, { minLength: 1, maxLength: 3 }), { maxKeys: 4 }), u128, async (hosts, probe) => {
      let lookups = 0;
      const resolver: NameResolver = {
        async lookupHost(name) {
          lookups++;
          const r = hosts[name];
          if (r === undefined) throw new Error('ENOTFOUND');
          return r;
        },
        async lookupNetwork() {
          return null;
        },
        async reverse() {
          return [];
        },
      };
      const names = Object.keys(hosts);
      const service = { only_from: [...names, 'missing.example'], no_access: null };
      const resolved = await resolveAclNames(service, resolver);
      assert.equal(lookups, names.length + 1);
      const acl = compileServiceAcl(service, resolved);
      assert.equal(acl.onlyFrom.problems.length, 1, 'only the missing name is reported');
      const all = new Set(
        Object.values(hosts)
          .flat()
          .map((a) => peer(a)),
      );
      for (const a of all) assert.deepEqual(decideAccess(acl, a), { allow: true });
      assert.equal(decideAccess(acl, probe).allow, all.has(probe));
      const mappedProbe = v4ToBig(Number(probe & 0xffffffffn));
      assert.equal(decideAccess(acl, mappedProbe).allow, all.has(mappedProbe));
    }),
  );
});
