// Read-only lookups in the system databases: /etc/services, /etc/protocols,
// /etc/passwd, /etc/group and /etc/rpc. Parsed once per path and cached; callers may pass
// other paths (tests). Node has no getservbyname/getpwnam, and these files are
// what the C library reads on the machines we target.

import { readFileSync } from 'node:fs';
import { present } from '../util/invariant.js';

export interface ServiceEntry {
  name: string;
  port: number;
  protocol: string;
  aliases: string[];
}

/** One /etc/rpc line: `name number alias...`. */
export interface RpcEntry {
  name: string;
  number: number;
  aliases: string[];
}

export interface UserEntry {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

export interface GroupEntry {
  name: string;
  gid: number;
  members: string[];
}

function readLines(path: string): string[] {
  try {
    return readFileSync(path, 'utf8').split('\n');
  } catch {
    return [];
  }
}

function fieldsOf(line: string): string[] {
  const hash = line.indexOf('#');
  const body = hash >= 0 ? line.slice(0, hash) : line;
  return body
    .trim()
    .split(/\s+/)
    .filter((f) => f.length > 0);
}

export class SysDb {
  private servicesTables: { byKey: Map<string, ServiceEntry>; byPort: Map<string, ServiceEntry> } | null = null;
  private protocols: Map<string, number> | null = null;
  private usersTables: { byName: Map<string, UserEntry>; byId: Map<number, UserEntry> } | null = null;
  private groupsTables: { byName: Map<string, GroupEntry>; byId: Map<number, GroupEntry> } | null = null;
  private rpcByKey: Map<string, RpcEntry> | null = null;

  constructor(
    readonly paths: { services: string; protocols: string; passwd: string; group: string; rpc?: string } = {
      services: '/etc/services',
      protocols: '/etc/protocols',
      passwd: '/etc/passwd',
      group: '/etc/group',
    },
  ) {}

  /**
   * getrpcbyname(name): the /etc/rpc entry whose name or one of whose aliases is `name` (the
   * first such line, as glibc's files backend reads it), or undefined.
   */
  rpcByName(name: string): RpcEntry | undefined {
    if (this.rpcByKey === null) {
      this.rpcByKey = new Map();
      for (const line of readLines(this.paths.rpc ?? '/etc/rpc')) {
        const f = fieldsOf(line);
        if (f.length < 2 || !/^\d+$/.test(f[1] ?? '')) continue;
        const entry: RpcEntry = { name: f[0] ?? '', number: Number(f[1]), aliases: f.slice(2) };
        for (const n of [entry.name, ...entry.aliases]) if (!this.rpcByKey.has(n)) this.rpcByKey.set(n, entry);
      }
    }
    return this.rpcByKey.get(name);
  }

  private services(): { byKey: Map<string, ServiceEntry>; byPort: Map<string, ServiceEntry> } {
    if (this.servicesTables !== null) return this.servicesTables;
    const t = (this.servicesTables = { byKey: new Map<string, ServiceEntry>(), byPort: new Map<string, ServiceEntry>() });
    for (const line of readLines(this.paths.services)) {
      const [name, portProtocol, ...aliases] = fieldsOf(line);
      if (name === undefined || portProtocol === undefined) continue;
      const m = /^(\d+)\/(\w+)$/.exec(portProtocol);
      if (m === null) continue;
      const entry: ServiceEntry = { name, port: Number(m[1]), protocol: present(m[2], 'the protocol group, which always takes part'), aliases };
      for (const n of [entry.name, ...entry.aliases]) {
        const key = `${n}/${entry.protocol}`;
        if (!t.byKey.has(key)) t.byKey.set(key, entry);
      }
      const pk = `${entry.port}/${entry.protocol}`;
      if (!t.byPort.has(pk)) t.byPort.set(pk, entry);
    }
    return t;
  }

  /** getservbyname(name, protocol). */
  serviceByName(name: string, protocol: string): ServiceEntry | undefined {
    return this.services().byKey.get(`${name}/${protocol}`);
  }

  /** getservbyport(port, protocol). */
  serviceByPort(port: number, protocol: string): ServiceEntry | undefined {
    return this.services().byPort.get(`${port}/${protocol}`);
  }

  /** getprotobyname: the protocol number, or undefined when unknown. Accepts aliases (e.g. TCP). */
  protocolNumber(name: string): number | undefined {
    if (this.protocols === null) {
      this.protocols = new Map();
      for (const line of readLines(this.paths.protocols)) {
        const [official, number, ...aliases] = fieldsOf(line);
        if (official === undefined || number === undefined || !/^\d+$/.test(number)) continue;
        for (const n of [official, ...aliases]) if (!this.protocols.has(n)) this.protocols.set(n, Number(number));
      }
    }
    return this.protocols.get(name);
  }

  private users(): { byName: Map<string, UserEntry>; byId: Map<number, UserEntry> } {
    if (this.usersTables !== null) return this.usersTables;
    const t = (this.usersTables = { byName: new Map<string, UserEntry>(), byId: new Map<number, UserEntry>() });
    for (const line of readLines(this.paths.passwd)) {
      const f = line.split(':');
      const [name, , uid, gid, , home] = f;
      if (f.length < 7 || name === undefined || uid === undefined || gid === undefined || home === undefined) continue;
      if (!/^\d+$/.test(uid) || !/^\d+$/.test(gid)) continue;
      const u: UserEntry = { name, uid: Number(uid), gid: Number(gid), home };
      if (!t.byName.has(u.name)) t.byName.set(u.name, u);
      if (!t.byId.has(u.uid)) t.byId.set(u.uid, u);
    }
    return t;
  }

  /** getpwnam, or getpwuid for an all-digits name. */
  user(nameOrId: string): UserEntry | undefined {
    const t = this.users();
    if (/^\d+$/.test(nameOrId)) return t.byId.get(Number(nameOrId));
    return t.byName.get(nameOrId);
  }

  private groups(): { byName: Map<string, GroupEntry>; byId: Map<number, GroupEntry> } {
    if (this.groupsTables !== null) return this.groupsTables;
    const t = (this.groupsTables = { byName: new Map<string, GroupEntry>(), byId: new Map<number, GroupEntry>() });
    for (const line of readLines(this.paths.group)) {
      const [name, , gid, members] = line.split(':');
      if (name === undefined || gid === undefined || members === undefined || !/^\d+$/.test(gid)) continue;
      const g: GroupEntry = { name, gid: Number(gid), members: members.split(',').filter((m) => m.length > 0) };
      if (!t.byName.has(g.name)) t.byName.set(g.name, g);
      if (!t.byId.has(g.gid)) t.byId.set(g.gid, g);
    }
    return t;
  }

  /** getgrnam, or getgrgid for an all-digits name. */
  group(nameOrId: string): GroupEntry | undefined {
    const t = this.groups();
    if (/^\d+$/.test(nameOrId)) return t.byId.get(Number(nameOrId));
    return t.byName.get(nameOrId);
  }

  /** The supplementary group ids of a user, as initgroups(3) would set them (primary gid first). */
  supplementaryGroups(user: UserEntry): number[] {
    const ids = [user.gid];
    for (const g of this.groups().byName.values()) if (g.members.includes(user.name) && !ids.includes(g.gid)) ids.push(g.gid);
    return ids;
  }
}

/** The process-wide database on the standard paths. */
export const systemDb = new SysDb();
