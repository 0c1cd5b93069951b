// inetd.conf entries (located nodes from inetd-syntax.ts) -> Services, following the meaning
// each dialect's own inetd(8) gives the fields (the checks of single fields are in inetd-fields.ts).
// Pure apart from the injected lookups.
//
// Per entry: `[host:]service socket-type protocol wait user server [argv0 args...]`.
// - host: `*` or absent = every address (bind null); an address or name = `bind`; a comma list
//   = one Service per host (OpenBSD). A line `host:` alone sets the host of later lines.
// - port: the numeric service field, or /etc/services for the service and protocol.
// - protocol: tcp|udp + 4 (IPv4 only) | 6 (IPv6 only, v6only) | 46 (one dual-stack socket);
//   bare tcp/udp is IPv4 + IPv6 for OpenBSD, on two sockets as its inetd opens them (an IPv4
//   client gets an AF_INET socket: `family_sockets`), and IPv4 only for FreeBSD and GNU inetutils.
//   An address literal in `host:` narrows it to its own family, as inetd's getaddrinfo does.
// - wait: `.N` (OpenBSD, GNU, busybox) = a limit on starts per 60 s, then 10 min off
//   (`inetd_rate`, counted as the dialect's inetd counts: limits.ts INETD_RATE_RULES; 256 when
//   not given, 1000 for GNU inetutils). FreeBSD `/max-child` = `instances` that queue
//   (`instances_at_limit = 'queue'`: at the limit the socket is not accepted on),
//   `/max-connections-per-ip-per-minute` = `per_source_per_minute`, `/max-child-per-ip` =
//   `per_source` (0 or empty = no limit); FreeBSD's global 256/min rate applies as well.
// - user: OpenBSD `user.group` or `user:group` (with a colon the group follows the first colon,
//   so dotted user names work; without one it follows the first dot, as inetd does); FreeBSD
//   `user:group/login-class` (the login class is ignored, with a warning).
// - server `internal`: echo, discard, chargen, daytime, time (server null, type INTERNAL,
//   wait = dgram, as inetd serves them); otherwise argv is the rest of the line, argv[0] first,
//   or the program's base name when the line gives no arguments (OpenBSD).
// - no cps limit (`cps = [0, 0]`): classic inetds have none; their `.N` rate is `inetd_rate`.
// - flags: NAMEINARGS (argv[0] is in the line) and NOLIBWRAP (inetd only wraps with -l/-w),
//   plus IPv4 or IPv6 for single-family services.
// A later entry for the same host, service, protocol and address family replaces the earlier
// one (inetd's reconfiguration does the same): `ftp tcp` then `ftp tcp6` leaves the first one
// IPv4 only. RPC entries (`NAME/VERS` or `NAME/LOW-HIGH` with `rpc/tcp`, `rpc/udp` and their
// family suffixes) take their program from /etc/rpc and an ephemeral port registered with
// rpcbind. FreeBSD's `tcpmux/NAME` and `tcpmux/+NAME` are TCPMUX services (no port) and its
// internal `tcpmux` serves them. Protocol `unix`: the service field is the socket's path, with
// FreeBSD's `:user:group:mode:` prefix (inetd-unix.ts); one socket per path, a later entry
// replaces an earlier one. Unsupported entries (TCPMUX outside the FreeBSD dialect,
// raw/rdm/seqpacket, entries under
// a FreeBSD `#@` IPsec policy) are skipped with an error that says so; so are entries that
// cannot be understood. Unknown users/groups and missing programs are `problems` (warnings):
// inetd itself only finds out when a client connects.

import { basename } from 'node:path';
import { diag, type Diagnostic } from '../../diagnostics.js';
import type { ResolvedInetdDialect } from './inetd-dialect.js';
import { defaultInetdBuildEnv, FieldReader, INETD_MAX_ARGS, rateFlavourOf, type Family, type InetdBuildEnv } from './inetd-fields.js';
import { gnuDefaultTcpmux, type Unit } from './inetd-unit.js';
import { parseField, positionAfter, type HostPiece, type InetdEntryNode, type InetdNode, type InetdWord, type WordPiece } from './inetd-syntax.js';
import { asUnixService, builtinPieceOf, PREFIX_IGNORED, readSocketPrefix, takeSamePath, unixSocketOf, type SocketPerms } from './inetd-unix.js';
import { inetdRateOf } from '../../admission/limits.js';
import { newService, compactService } from '../../service-defaults.js';
import type { Service, UnixSocket } from '../../table.js';
import { present } from '../../util/invariant.js';

export { defaultInetdBuildEnv, parseCUnsigned, type InetdBuildEnv } from './inetd-fields.js';

export interface InetdBuildResult {
  services: Service[];
  diagnostics: Diagnostic[];
}

/** The start of an entry: where it listens and what service it names. */
interface EntryHead {
  hosts: HostPiece[];
  /** The word holding the `host:` prefix, null when the host is implied. */
  hostWord: InetdWord | null;
  /** The fields from the service name on. */
  fields: InetdWord[];
  nameWord: InetdWord;
  namePiece: WordPiece;
  /** FreeBSD's `:user:group:mode:` prefix (the socket file's owner, group and mode); null when absent. */
  socketPerms: SocketPerms | null;
}

const EVERY_ADDRESS: HostPiece = { text: '*', offset: 0, length: 0, bracketed: false };

const FIELD_NAMES = ['service', 'socket type', 'protocol', 'wait/nowait', 'user', 'server program'];

/** Reads whole entries, with the state a file carries from line to line (default host, policy). */
class EntryReader extends FieldReader {
  private defaultHosts: HostPiece[] | null = null;
  private policy: { line: number; text: string } | null = null;

  policyLine(line: number, text: string): void {
    if (this.dialect !== 'freebsd') return; // a comment for the other inetds
    if (text === '') {
      this.policy = null;
      return;
    }
    this.policy = { line, text };
    this.report(
      'inetd-unsupported',
      'warning',
      { file: this.file, line, column: 1 },
      `IPsec policies (\`#@\`) are not supported by tsinetd: the entries that follow are skipped until a \`#@\` line with no policy`,
      2,
    );
  }

  /** Reads one entry; returns its units (empty when the entry is skipped or sets the default host). */
  entry(node: InetdEntryNode): Unit[] {
    this.pending = [];
    const units = this.readEntry(node);
    if (units.length > 0) this.diagnostics.push(...this.pending);
    return units;
  }

  /**
   * The hosts and the service name of an entry, and its fields from the service on; null when
   * the entry stops here (a default-host line, or an error already reported).
   */
  private hostsAndService(words: InetdWord[]): EntryHead | null {
    const first = present(words[0], 'an entry of at least one word');
    if (this.dialect === 'freebsd') {
      if (first.text.startsWith(':')) return this.socketPrefix(first, words);
      if (first.text.includes(':')) {
        this.report(
          'inetd-bad-field',
          'error',
          this.pos(first),
          'FreeBSD inetd.conf has no `host:` prefix (FreeBSD inetd binds every service to its -a address)',
          first.text.length,
        );
        return null;
      }
      const namePiece = { text: first.text, offset: 0 };
      return { hosts: [EVERY_ADDRESS], hostWord: null, fields: words, nameWord: first, namePiece, socketPerms: null };
    }
    const shape = parseField('ServiceField', first.text);
    if (shape === null) {
      this.internalError(first);
      return null;
    }
    if (shape.hosts !== null) {
      for (const h of shape.hosts) {
        if (h.text === '') {
          this.report('inetd-bad-field', 'error', this.pos(first, h.offset), 'empty host address before `:`', Math.max(1, h.length));
          return null;
        }
      }
    }
    if (shape.hosts !== null && shape.name.text === '') {
      // `host: service ...`: inetd takes the next word as the service.
      const nameWord = words[1];
      if (nameWord === undefined) {
        this.defaultHosts = shape.hosts.length === 1 && shape.hosts[0]?.text === '*' ? null : shape.hosts;
        return null;
      }
      const namePiece = { text: nameWord.text, offset: 0 };
      return { hosts: shape.hosts, hostWord: first, fields: words.slice(1), nameWord, namePiece, socketPerms: null };
    }
    return {
      hosts: shape.hosts ?? this.defaultHosts ?? [EVERY_ADDRESS],
      hostWord: shape.hosts !== null ? first : null,
      fields: words,
      nameWord: first,
      namePiece: shape.name,
      socketPerms: null,
    };
  }

  /** FreeBSD's `:user:group:mode:service` (inetd-unix.ts); null when it is wrong (reported). */
  private socketPrefix(first: InetdWord, words: InetdWord[]): EntryHead | null {
    const r = readSocketPrefix(first.text, this.env.db);
    if (!r.ok) {
      this.report('inetd-bad-field', 'error', this.pos(first, r.offset), r.message, r.length);
      return null;
    }
    const namePiece = { text: first.text.slice(r.nameOffset), offset: r.nameOffset };
    return { hosts: [EVERY_ADDRESS], hostWord: null, fields: words, nameWord: first, namePiece, socketPerms: r.perms };
  }

  /** The socket file of a `unix` entry (inetd-unix.ts), or null when its path cannot be one (reported). */
  private unixSocket(head: EntryHead): UnixSocket | null {
    const { nameWord, namePiece, hostWord, socketPerms } = head;
    if (hostWord !== null) {
      this.report('inetd-bad-field', 'error', this.pos(hostWord), 'a unix-domain socket has no host address: write the path alone', hostWord.text.length);
      return null;
    }
    const r = unixSocketOf(namePiece.text, socketPerms, this.dialect);
    if (!r.ok) {
      this.report('inetd-bad-field', 'error', this.pos(nameWord, namePiece.offset), r.message, Math.max(1, namePiece.text.length));
      return null;
    }
    return r.socket;
  }

  private readEntry(node: InetdEntryNode): Unit[] {
    const words = node.words;
    const first = present(words[0], 'an entry of at least one word');
    if (node.indented && first.text.startsWith('#')) {
      this.report(
        'inetd-continuation',
        'warning',
        this.pos(first),
        'a comment must start in column 1: inetd would read this line as an entry; tsinetd ignores it',
      );
      return [];
    }
    for (const c of node.continuations) {
      const lead = c.words[0];
      if (lead !== undefined && lead.text.startsWith('#')) {
        this.report(
          'inetd-continuation',
          'warning',
          this.pos(lead),
          `not a comment: a line that starts with a blank continues the entry of line ${node.line}, so these words are part of it`,
        );
      }
    }

    const head = this.hostsAndService(words);
    if (head === null) return [];
    const { hosts, hostWord, fields, nameWord, namePiece, socketPerms } = head;

    if (this.policy !== null) {
      this.report(
        'inetd-unsupported',
        'error',
        this.pos(nameWord, namePiece.offset),
        `entry skipped: it is under the IPsec policy of line ${this.policy.line} (\`#@ ${this.policy.text}\`), which tsinetd cannot apply`,
        namePiece.text.length,
      );
      return [];
    }

    if (fields.length < 6) {
      const last = present(fields.at(-1), 'the service field');
      this.report(
        'inetd-incomplete',
        'error',
        positionAfter(this.file, last),
        `incomplete entry: the ${FIELD_NAMES[fields.length]} field is missing (an entry needs service, socket type, protocol, wait/nowait, user and server program)`,
      );
      return [];
    }
    const [, typeWord, protoWord, waitWord, userWord, serverWord] = fields as [InetdWord, InetdWord, InetdWord, InetdWord, InetdWord, InetdWord];
    const args = fields.slice(6);
    const errorsBefore = this.errorCount();

    const socketType = this.socketType(typeWord);
    const proto = this.protocol(protoWord, socketType);
    const unix = proto?.unix === true ? this.unixSocket(head) : null;
    if (proto !== null && !proto.unix && socketPerms !== null) this.report('inetd-field-note', 'warning', this.pos(nameWord), PREFIX_IGNORED, namePiece.offset);
    const server = this.serverField(
      serverWord,
      nameWord,
      builtinPieceOf(namePiece, unix !== null, this.dialect),
      proto?.base ?? (socketType === 'dgram' ? 'udp' : 'tcp'),
    );
    // An unknown internal service has already been reported on the service name.
    const badInternal = serverWord.text === 'internal' && server === null;
    const rpc = proto?.rpc === true && !badInternal ? this.rpcProgram(nameWord, namePiece) : null;
    const mux = this.muxService(nameWord, namePiece, proto?.written ?? null, socketType);
    if (mux === 'bad') return [];
    // An RPC service's port is an ephemeral one, registered with rpcbind (rpc-plan.ts); a TCPMUX
    // service has none: tcpmux hands it its connections; nor has a unix socket.
    const port =
      proto === null || badInternal
        ? null
        : proto.unix
          ? 0
          : proto.rpc
            ? rpc === null
              ? null
              : 0
            : mux !== null
              ? 0
              : this.port(nameWord, namePiece, proto.base);
    const wait = this.waitField(waitWord);
    const user = this.userField(userWord);
    const argv = server === null || server.internal ? [] : this.argvOf(args, server.path);

    if (this.errorCount() > errorsBefore || socketType === null || proto === null || port === null) return [];
    if (proto.unix && unix === null) return [];
    if (wait === null || user === null || server === null) return [];

    const units: Unit[] = [];
    // A unix socket has one path and no host (a default `host:` line does not apply to it).
    for (const h of unix !== null ? [EVERY_ADDRESS] : hosts) {
      const families = unix !== null ? new Set<Family>() : this.familiesFor(h, hostWord, proto.families, proto.written, protoWord);
      if (families === null) continue;
      units.push({
        line: node.line,
        at: this.pos(nameWord, namePiece.offset),
        host: h.text,
        name: server.internal ? server.builtin : mux !== null ? mux.name : (rpc?.name ?? namePiece.text),
        mux: mux?.kind ?? null,
        protoWritten: proto.written,
        base: proto.base,
        families,
        socketType,
        port,
        rpc: rpc === null ? null : { prog: rpc.prog, versions: rpc.versions },
        // Built-ins, and TCPMUX services (which have no socket to wait on), are nowait.
        wait: server.internal || mux !== null ? socketType === 'dgram' : wait.wait,
        user: user.user,
        group: user.group,
        internal: server.internal,
        server: server.path,
        argv,
        rateMax: wait.rateMax,
        instances: wait.instances,
        perSource: wait.perSource,
        perSourcePerMinute: wait.perSourcePerMinute,
        unix,
        problems: [...user.problems, ...server.problems],
      });
    }
    return units;
  }

  /** argv as written, argv[0] first (the program's base name when the line has none); 20 at most. */
  private argvOf(args: InetdWord[], path: string): string[] {
    let kept = args;
    if (args.length > INETD_MAX_ARGS) {
      const extra = present(args[INETD_MAX_ARGS], 'an argument past the limit');
      if (this.dialect === 'freebsd') {
        this.report('inetd-arguments', 'error', this.pos(extra), `too many arguments: FreeBSD inetd takes at most ${INETD_MAX_ARGS} and skips this entry`);
      } else {
        this.report('inetd-arguments', 'warning', this.pos(extra), `inetd passes at most ${INETD_MAX_ARGS} arguments; the rest of the line is dropped`);
        kept = args.slice(0, INETD_MAX_ARGS);
      }
    }
    return kept.length > 0 ? kept.map((w) => w.text) : [basename(path)];
  }

  private errorCount(): number {
    return this.diagnostics.filter((d) => d.severity === 'error').length;
  }
}

/** Applies inetd's "a later entry replaces an earlier one" per host, service, protocol and family. */
function resolveReplacements(units: Unit[], diagnostics: Diagnostic[]): Unit[] {
  const kept: Unit[] = [];
  for (const u of units) {
    if (u.unix !== null) {
      // One socket per path: a later entry for it replaces the earlier one.
      const replaced = takeSamePath(kept, u.unix.path);
      if (replaced !== undefined) {
        const message = `this entry replaces the one of line ${replaced.line} (inetd keeps the last entry for a service)`;
        diagnostics.push(diag('inetd-replaced', 'warning', u.at, message, u.unix.path.length));
      }
      kept.push(u);
      continue;
    }
    for (const earlier of kept) {
      if (earlier.unix !== null) continue;
      if (earlier.host !== u.host || earlier.name !== u.name || earlier.base !== u.base) continue;
      if (earlier.line === u.line) continue;
      const before = earlier.families.size;
      for (const f of u.families) earlier.families.delete(f);
      if (before > 0 && earlier.families.size === 0) {
        diagnostics.push(
          diag(
            'inetd-replaced',
            'warning',
            u.at,
            `this entry replaces the one of line ${earlier.line} (inetd keeps the last entry for a service)`,
            u.name.length,
          ),
        );
      }
    }
    kept.push(u);
  }
  return kept.filter((u) => u.unix !== null || u.families.size > 0);
}

function hostLabel(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

/**
 * Service ids, unique within the file: the service name; `name/protocol` (as written, e.g.
 * `ftp/tcp6`) when the name appears more than once; `host:name/protocol` when that repeats
 * too (`[::1]:comsat/udp6`); a final `@line` only if even that repeats.
 */
export function inetdIds(units: readonly { name: string; protoWritten: string; host: string; line: number }[]): string[] {
  const count = (keys: string[]): Map<string, number> => {
    const m = new Map<string, number>();
    for (const k of keys) m.set(k, (m.get(k) ?? 0) + 1);
    return m;
  };
  const byName = count(units.map((u) => u.name));
  const byProto = count(units.map((u) => `${u.name}/${u.protoWritten}`));
  const ids = units.map((u) => {
    const withProto = `${u.name}/${u.protoWritten}`;
    const id = byName.get(u.name) === 1 ? u.name : byProto.get(withProto) === 1 ? withProto : `${hostLabel(u.host)}:${withProto}`;
    return { id, line: u.line };
  });
  const byId = count(ids.map((x) => x.id));
  return ids.map(({ id, line }) => ((byId.get(id) ?? 0) > 1 ? `${id}@${line}` : id));
}

function toService(file: string, dialect: ResolvedInetdDialect, u: Unit, id: string, strings: Map<string, string>): Service {
  const s = newService(u.name, dialect === 'freebsd' ? 'inetd-freebsd' : dialect === 'gnu' ? 'inetd-gnu' : 'inetd', { file, line: u.line });
  s.id = id;
  s.problems = u.problems;
  s.socket_type = u.socketType;
  s.protocol = u.base;
  s.port = u.mux !== null ? null : u.port;
  s.wait = u.wait;
  s.user = u.user;
  s.group = u.group;
  s.groups = true; // both inetds call initgroups() for non-root users
  s.server = u.server;
  s.server_argv = u.internal ? [] : u.argv;
  s.type = u.internal
    ? ['INTERNAL']
    : u.rpc !== null
      ? ['RPC']
      : u.mux === 'plus'
        ? ['TCPMUXPLUS', 'UNLISTED']
        : u.mux === 'plain'
          ? ['TCPMUX', 'UNLISTED']
          : [];
  if (u.rpc !== null) {
    s.port = null;
    s.rpc_number = u.rpc.prog;
    s.rpc_version = u.rpc.versions;
  }
  const flags = u.internal ? ['NOLIBWRAP'] : ['NAMEINARGS', 'NOLIBWRAP'];
  const fam = u.families;
  if (fam.size === 1 && fam.has('4')) flags.push('IPv4');
  else if (fam.size === 1 && fam.has('6')) {
    flags.push('IPv6');
    s.v6only = true;
  } else if (fam.has('4') && fam.has('6') && !fam.has('46')) {
    // OpenBSD's plain tcp/udp: one socket per family, as its inetd opens them.
    s.v6only = true;
    s.family_sockets = true;
  } else {
    s.v6only = false; // 46: one dual-stack socket
  }
  s.flags = flags;
  s.cps = [0, 0];
  s.inetd_rate = inetdRateOf(rateFlavourOf(dialect), u.rateMax);
  s.instances = u.instances;
  // FreeBSD's max-child stops accepting at the limit; the client waits in the listen queue.
  if (dialect === 'freebsd') s.instances_at_limit = 'queue';
  s.per_source = u.perSource;
  s.per_source_per_minute = u.perSourcePerMinute;
  s.bind = u.host === '*' ? null : u.host;
  if (u.unix !== null) asUnixService(s, u.unix);
  compactService(s, strings);
  return s;
}

/** Builds the Services of one inetd.conf file from its nodes. */
export function buildInetdServices(
  file: string,
  nodes: readonly InetdNode[],
  dialect: ResolvedInetdDialect,
  env: InetdBuildEnv = defaultInetdBuildEnv,
): InetdBuildResult {
  const reader = new EntryReader(file, dialect, env);
  const units: Unit[] = [];
  for (const node of nodes) {
    if (node.kind === 'policy') reader.policyLine(node.line, node.text);
    else if (node.kind === 'entry') units.push(...reader.entry(node));
  }
  const diagnostics = reader.diagnostics;
  const kept = resolveReplacements(units, diagnostics);
  if (dialect === 'gnu') kept.push(...gnuDefaultTcpmux(kept, env, diagnostics));
  const ids = inetdIds(kept);
  const strings = new Map<string, string>();
  return { services: kept.map((u, i) => toService(file, dialect, u, present(ids[i], 'an id for each unit'), strings)), diagnostics };
}
