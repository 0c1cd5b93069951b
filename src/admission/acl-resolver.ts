// The names of only_from / no_access. Host names and network names are resolved before
// compiling (resolveAclNames, async, with an injectable resolver), so matching needs no
// lookup. Only `.domain` entries need the peer's name at connection time: reverse lookup
// confirmed by a forward lookup (verifiedHostnames), never blocking the event loop.
// systemResolver() is the only I/O of admission's address lists.

import { promises as dns } from 'node:dns';
import { readFile } from 'node:fs/promises';
import { formatAddress, parsePeerAddress } from './acl-address.js';
import { aclNames } from './acl-entry.js';
import type { Service } from '../table.js';
import { withTimeout } from '../util/with-timeout.js';

/** How a name entry was resolved before compiling. */
export type NameResolution = { kind: 'host'; addresses: readonly string[] } | { kind: 'network'; number: string } | { kind: 'unresolved'; message: string };

export type ResolvedNames = ReadonlyMap<string, NameResolution>;

/** The lookups admission needs (injectable; systemResolver() asks the system). */
export interface NameResolver {
  /** Every address of a host name (IPv4 and IPv6); [] or a rejection when unknown. */
  lookupHost(name: string): Promise<readonly string[]>;
  /** The network number of an /etc/networks name as written there (e.g. "127.0.0.0"), or null. */
  lookupNetwork(name: string): Promise<string | null>;
  /** Host names of a numeric address (reverse lookup); [] when it has none. */
  reverse(address: string): Promise<readonly string[]>;
}

/**
 * Resolves the host and network names of a service's lists, as xinetd does at load (host
 * first, then /etc/networks). Run it at load and on reload; never per connection.
 */
export async function resolveAclNames(service: Pick<Service, 'only_from' | 'no_access'>, resolver: NameResolver): Promise<Map<string, NameResolution>> {
  const out = new Map<string, NameResolution>();
  await Promise.all(
    aclNames(service).map(async (name) => {
      let addresses: readonly string[];
      try {
        addresses = (await resolver.lookupHost(name)).filter((a) => parsePeerAddress(a) !== null);
      } catch {
        addresses = [];
      }
      if (addresses.length > 0) {
        out.set(name, { kind: 'host', addresses });
        return;
      }
      let network: string | null;
      try {
        network = await resolver.lookupNetwork(name);
      } catch {
        network = null;
      }
      if (network !== null) out.set(name, { kind: 'network', number: network });
      else out.set(name, { kind: 'unresolved', message: 'unknown host or network name' });
    }),
  );
  return out;
}

/**
 * The peer's host names that a forward lookup confirms (reverse names alone are whatever
 * the address owner wants them to be). Lookup failures give [].
 */
export async function verifiedHostnames(addr: bigint, resolver: NameResolver): Promise<string[]> {
  let names: readonly string[];
  try {
    names = await resolver.reverse(formatAddress(addr));
  } catch {
    return [];
  }
  const confirmed: string[] = [];
  await Promise.all(
    names.map(async (name) => {
      try {
        const addrs = await resolver.lookupHost(name);
        if (addrs.some((a) => parsePeerAddress(a) === addr)) confirmed.push(name);
      } catch {
        // unconfirmed
      }
    }),
  );
  return confirmed;
}

// ---------------------------------------------------------------------------------------
// The system resolver

/** /etc/networks: `name number [aliases...]` → lower-case name or alias → number as written. */
export function parseNetworks(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const hash = line.indexOf('#');
    const fields = (hash >= 0 ? line.slice(0, hash) : line)
      .trim()
      .split(/\s+/)
      .filter((f) => f !== '');
    const [name, number, ...aliases] = fields;
    if (name === undefined || number === undefined) continue;
    for (const n of [name, ...aliases]) {
      const key = n.toLowerCase();
      if (!out.has(key)) out.set(key, number);
    }
  }
  return out;
}

/** A name lookup that has not answered after `ms` counts as failed. */
function lookupWithin<T>(p: Promise<T>, ms: number): Promise<T> {
  return withTimeout(p, ms, () => new Error('lookup timed out'), { unref: true });
}

/**
 * Lookups through the C library (getaddrinfo / getnameinfo, so /etc/hosts and nsswitch
 * apply) on libuv's thread pool: they never block the event loop. Each one gives up after
 * `timeoutMs`.
 */
export function systemResolver(options: { timeoutMs?: number; networksPath?: string } = {}): NameResolver {
  const timeoutMs = options.timeoutMs ?? 5000;
  const networksPath = options.networksPath ?? '/etc/networks';
  return {
    async lookupHost(name) {
      const found = await lookupWithin(dns.lookup(name, { all: true, verbatim: true }), timeoutMs);
      return found.map((f) => f.address);
    },
    async lookupNetwork(name) {
      let text: string;
      try {
        text = await readFile(networksPath, 'utf8');
      } catch {
        return null;
      }
      return parseNetworks(text).get(name.toLowerCase()) ?? null;
    },
    async reverse(address) {
      try {
        const { hostname } = await lookupWithin(dns.lookupService(address, 0), timeoutMs);
        return hostname === address || hostname === '' ? [] : [hostname];
      } catch {
        return [];
      }
    },
  };
}
