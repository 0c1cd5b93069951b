// Read-only lookups in the system databases: /etc/services, /etc/protocols,
// /etc/passwd, /etc/group and /etc/rpc. Parsed once per path and cached; callers may pass
// other paths (tests). Node has no getservbyname/getpwnam, and these files are
// what the C library reads on the machines we target.

import { readFileSync } from 'node:fs';

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
  private servicesByKey: Map<string, ServiceEntry> | null = null;
  private servicesByPort: Map<string, ServiceEntry> | null = null;
  private protocols: Map<string, number> | null = null;
  private users: Map<string, UserEntry> | null = null;
  private usersById: Map<number, UserEntry> | null = null;
  private groups: Map<string, GroupEntry> | null = null;
  private groupsById: Map<number, GroupEntry> | null = null;
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

  private loadServices(): void {
    if (this.servicesByKey !== null) return;
    this.servicesByKey = new Map();
    this.servicesByPort = new Map();
    for (const line of readLines(this.paths.services)) {
      const f = fieldsOf(line);
      if (f.length < 2) continue;
      const m = /^(\d+)\/(\w+)$/.exec(f[1]!);
      if (m === null) continue;
      const entry: ServiceEntry = { name: f[0]!, port: Number(m[1]), protocol: m[2]!, aliases: f.slice(2) };
      for (const n of [entry.name, ...entry.aliases]) {
        const key = `${n}/${entry.protocol}`;
        if (!this.servicesByKey.has(key)) this.servicesByKey.set(key, entry);
      }
      const pk = `${entry.port}/${entry.protocol}`;
      if (!this.servicesByPort!.has(pk)) this.servicesByPort!.set(pk, entry);
    }
  }

  /** getservbyname(name, protocol). */
  serviceByName(name: string, protocol: string): ServiceEntry | undefined {
    this.loadServices();
    return this.servicesByKey!.get(`${name}/${protocol}`);
  }

  /** getservbyport(port, protocol). */
  serviceByPort(port: number, protocol: string): ServiceEntry | undefined {
    this.loadServices();
    return this.servicesByPort!.get(`${port}/${protocol}`);
  }

  /** getprotobyname: the protocol number, or undefined when unknown. Accepts aliases (e.g. TCP). */
  protocolNumber(name: string): number | undefined {
    if (this.protocols === null) {
      this.protocols = new Map();
      for (const line of readLines(this.paths.protocols)) {
        const f = fieldsOf(line);
        if (f.length < 2 || !/^\d+$/.test(f[1]!)) continue;
        for (const n of [f[0]!, ...f.slice(2)]) if (!this.protocols.has(n)) this.protocols.set(n, Number(f[1]));
      }
    }
    return this.protocols.get(name);
  }

  private loadUsers(): void {
    if (this.users !== null) return;
    this.users = new Map();
    this.usersById = new Map();
    for (const line of readLines(this.paths.passwd)) {
      const f = line.split(':');
      if (f.length < 7 || !/^\d+$/.test(f[2]!) || !/^\d+$/.test(f[3]!)) continue;
      const u: UserEntry = { name: f[0]!, uid: Number(f[2]), gid: Number(f[3]), home: f[5]! };
      if (!this.users.has(u.name)) this.users.set(u.name, u);
      if (!this.usersById.has(u.uid)) this.usersById.set(u.uid, u);
    }
  }

  /** getpwnam, or getpwuid for an all-digits name. */
  user(nameOrId: string): UserEntry | undefined {
    this.loadUsers();
    if (/^\d+$/.test(nameOrId)) return this.usersById!.get(Number(nameOrId));
    return this.users!.get(nameOrId);
  }

  private loadGroups(): void {
    if (this.groups !== null) return;
    this.groups = new Map();
    this.groupsById = new Map();
    for (const line of readLines(this.paths.group)) {
      const f = line.split(':');
      if (f.length < 4 || !/^\d+$/.test(f[2]!)) continue;
      const g: GroupEntry = { name: f[0]!, gid: Number(f[2]), members: f[3]!.split(',').filter((m) => m.length > 0) };
      if (!this.groups.has(g.name)) this.groups.set(g.name, g);
      if (!this.groupsById.has(g.gid)) this.groupsById.set(g.gid, g);
    }
  }

  /** getgrnam, or getgrgid for an all-digits name. */
  group(nameOrId: string): GroupEntry | undefined {
    this.loadGroups();
    if (/^\d+$/.test(nameOrId)) return this.groupsById!.get(Number(nameOrId));
    return this.groups!.get(nameOrId);
  }

  /** The supplementary group ids of a user, as initgroups(3) would set them (primary gid first). */
  supplementaryGroups(user: UserEntry): number[] {
    this.loadGroups();
    const ids = [user.gid];
    for (const g of this.groups!.values()) if (g.members.includes(user.name) && !ids.includes(g.gid)) ids.push(g.gid);
    return ids;
  }
}

/** The process-wide database on the standard paths. */
export const systemDb = new SysDb();
