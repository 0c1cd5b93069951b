// SIGHUP as a merge, not a restart: the pure decisions of a reload.
//
// mergeReload() chooses the definitions served after a reload. A service whose new definition
// is broken by the edit (an error disables it, or it has problems such as a missing program or
// an unknown user) keeps the definition it is served with now, and the reason is reported; when
// the definition did not change and only the system did (its program or user is gone), the
// previous definition would fail the same way, so the service is dropped as xinetd does. The
// current definition also stays for a service that disappeared from a file that now has errors
// no remaining service explains (a block lost to a syntax error), or from a file that still
// exists but was not read because of an error. Real xinetd drops every such service and kills
// its servers (measured: 2.3.15.3).
//
// planReload() then compares, by service id, what is served now with what will be:
//   keep     same id, same listening parameters: the socket stays open, running servers and
//            established connections are untouched, the new settings (limits, ACLs, server
//            arguments...) apply to the next connection;
//   restart  same id, listening parameters changed (port, bind, socket type, wait...): a new
//            socket replaces the old one; running servers are left alone (xinetd kills them);
//   add      a new id: a new socket;
//   remove   an id no longer served (removed, or disabled on purpose): its socket is closed and
//            its servers are killed, as xinetd does (SIGKILL for programs; in-process internal
//            services and redirects have their connections closed).
// Running servers of kept services are not checked again against the new only_from,
// access_times or instances: xinetd(8) says it does, but xinetd 2.3.15.3 does not (measured),
// and a reload must not drop established connections.

import { formatDiagnostic, type Diagnostic } from '../diagnostics.js';
import { socketsKey } from '../serve/listen-plan.js';
import { activated } from '../service-needs.js';
import type { Service, ServiceTable } from '../table.js';
import { oncePerKey } from '../util/once-per-key.js';

/** A previous definition served on, and why the new one was not taken. */
export interface KeptDefinition {
  service: Service;
  why: string;
}

export interface MergeResult {
  /** The new table, with the previous definitions put back for the affected services. */
  table: ServiceTable;
  /** What to serve from now on (enabled services without problems). */
  serve: Service[];
  kept: KeptDefinition[];
}

export interface MergeEnv {
  /** Whether a configuration file still exists (a file not read any more may just be gone). */
  fileExists(path: string): boolean;
}

function servable(s: Service): boolean {
  return s.enabled && s.problems.length === 0;
}

/** JSON with object keys sorted, for comparing definitions. */
function canonical(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) =>
    x !== null && typeof x === 'object' && !Array.isArray(x)
      ? Object.fromEntries(Object.entries(x as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : x,
  );
}

/**
 * The same configuration, whatever the system says about it now (problems), wherever it is
 * written, and whether it was activated (service-needs.ts activated()).
 */
function sameDefinition(a: Service, b: Service): boolean {
  const strip = (s: Service): unknown => ({ ...activated(s), problems: [], enabled: true, source: null });
  return canonical(strip(a)) === canonical(strip(b));
}

type Range = { file: string; from: number; to: number };

/** Where each service's text ends: the next service of the same file starts (inetd: the next line). */
function rangesOf(services: readonly Service[]): Map<Service, Range> {
  const byFile = new Map<string, Service[]>();
  for (const s of services) pushTo(byFile, s.source.file, s);
  const ranges = new Map<Service, Range>();
  for (const [file, list] of byFile) {
    const sorted = [...list].sort((a, b) => a.source.line - b.source.line);
    // From the end: the first later line is the one after the run of services on the same line.
    let nextLine = Infinity;
    for (let i = sorted.length - 1; i >= 0; i--) {
      const s = sorted[i] as Service;
      const after = sorted[i + 1];
      if (after !== undefined && after.source.line > s.source.line) nextLine = after.source.line;
      ranges.set(s, { file, from: s.source.line, to: nextLine - 1 });
    }
  }
  return ranges;
}

function inRange(d: Diagnostic, r: Range): boolean {
  return d.file === r.file && d.line >= r.from && d.line <= r.to;
}

/** The diagnostic is about this service (a check of it, a port clash): by id, never by its text. */
function refersTo(d: Diagnostic, s: Service): boolean {
  return d.services?.includes(s.id) === true;
}

function reasonOf(errors: readonly Diagnostic[]): string {
  const first = errors[0];
  if (first === undefined) return 'the new configuration has errors';
  const more = errors.length > 1 ? ` (and ${errors.length - 1} more error${errors.length > 2 ? 's' : ''})` : '';
  return formatDiagnostic(first) + more;
}

function pushTo<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list === undefined) map.set(key, [value]);
  else list.push(value);
}

/**
 * The new table and its errors, looked up by service id and by file once, so that a reload
 * costs the same per service at any size (no scan of the table or of the errors per service).
 */
class NextIndex {
  /** The new definitions of each id, in table order. */
  readonly byId = new Map<string, Service[]>();
  readonly ranges: Map<Service, Range>;
  private readonly rangesByFile = new Map<string, Range[]>();
  /** The errors of each file, and those that name each service, in the table's order. */
  private readonly errorsByFile = new Map<string, Diagnostic[]>();
  private readonly errorsById = new Map<string, Diagnostic[]>();
  private readonly order = new Map<Diagnostic, number>();

  constructor(
    readonly next: ServiceTable,
    readonly errors: readonly Diagnostic[],
  ) {
    for (const s of next.services) pushTo(this.byId, s.id, s);
    this.ranges = rangesOf(next.services);
    for (const r of this.ranges.values()) pushTo(this.rangesByFile, r.file, r);
    errors.forEach((d, i) => {
      this.order.set(d, i);
      pushTo(this.errorsByFile, d.file, d);
      for (const id of new Set(d.services ?? [])) pushTo(this.errorsById, id, d);
    });
  }

  /** The errors about `s` (in its text, or naming it), in the table's order. */
  errorsOf(s: Service): Diagnostic[] {
    const range = this.ranges.get(s);
    const inText = range === undefined ? [] : (this.errorsByFile.get(range.file) ?? []).filter((d) => inRange(d, range));
    const named = this.errorsById.get(s.id) ?? [];
    if (named.length === 0) return inText;
    const all = new Set([...inText, ...named]);
    return [...all].sort((a, b) => (this.order.get(a) ?? 0) - (this.order.get(b) ?? 0));
  }

  /** The errors of `file` that name `s` or lie outside the text of every new service. */
  unexplainedIn(file: string, s: Service): Diagnostic[] {
    const ranges = this.rangesByFile.get(file) ?? [];
    return (this.errorsByFile.get(file) ?? []).filter((d) => refersTo(d, s) || !ranges.some((r) => inRange(d, r)));
  }
}

/** Why the previous definition of `old` stays, or null when the new configuration is taken. */
function whyKeep(old: Service, index: NextIndex, env: MergeEnv): string | null {
  const candidates = index.byId.get(old.id) ?? [];
  if (candidates.some(servable)) return null;
  const n = candidates[0];
  if (n !== undefined) {
    const own = index.errorsOf(n);
    if (n.enabled && n.problems.length > 0) {
      // Unchanged: the system changed (program or user gone), the current definition fails as well.
      if (sameDefinition(old, n)) return null;
      return own.length > 0 ? reasonOf(own) : `the new definition cannot run: ${n.problems.join('; ')}`;
    }
    // Disabled: on purpose (disable = yes, not in `enabled`...) unless errors of its own say otherwise.
    return own.length > 0 ? reasonOf(own) : null;
  }
  // Gone from the new table.
  const file = old.source.file;
  const unexplained = index.unexplainedIn(file, old);
  if (unexplained.length > 0) return reasonOf(unexplained);
  const errors = index.errors;
  if (!index.next.files.includes(file) && errors.length > 0 && env.fileExists(file)) {
    return `${file} was not read: ${reasonOf(errors)}`;
  }
  return null;
}

/** The first service of each id. */
function firstById<T extends { id: string }>(list: readonly T[]): Map<string, T> {
  const map = new Map<string, T>();
  for (const s of list) if (!map.has(s.id)) map.set(s.id, s);
  return map;
}

/**
 * The table to serve after a reload: `next`, except that services served now (`current`)
 * whose new definition is broken keep their current one.
 */
export function mergeReload(current: readonly Service[], next: ServiceTable, env: MergeEnv): MergeResult {
  const index = new NextIndex(
    next,
    next.diagnostics.filter((d) => d.severity === 'error'),
  );
  const kept: KeptDefinition[] = [];
  const services = [...next.services];
  let at: Map<string, number> | null = null;
  for (const old of current) {
    const why = whyKeep(old, index, env);
    if (why === null) continue;
    kept.push({ service: old, why });
    at ??= new Map(services.map((s, i) => [s.id, i] as const).reverse());
    const i = at.get(old.id);
    if (i !== undefined) services[i] = old;
    else at.set(old.id, services.push(old) - 1);
  }
  const table: ServiceTable = { services, diagnostics: next.diagnostics, files: next.files };
  return { table, serve: services.filter(servable), kept };
}

/**
 * Services of `serve` that preparing refused (`accepted` is what it let through, e.g. an access
 * list that disables its service) and that are served now: their current definition stays.
 */
export function reinstate(
  current: readonly Service[],
  serve: readonly Service[],
  accepted: readonly Service[],
  why: string,
): { serve: Service[]; kept: KeptDefinition[] } {
  const ok = new Set(accepted);
  const served = firstById(current);
  const out: Service[] = [];
  const kept: KeptDefinition[] = [];
  for (const s of serve) {
    if (ok.has(s)) {
      out.push(s);
      continue;
    }
    const old = served.get(s.id);
    if (old !== undefined && old !== s) {
      out.push(old);
      kept.push({ service: old, why });
    }
  }
  return { serve: out, kept };
}

export interface ReloadPlan {
  keep: Service[];
  restart: Array<{ from: Service; to: Service }>;
  add: Service[];
  remove: Service[];
}

/**
 * The socket identities (socketsKey) of the services one reload pass looks at, each computed
 * once: the pass asks them of every service several times (port clashes, the plan).
 */
export function socketsKeyOnce(): (s: Service) => string {
  return oncePerKey(socketsKey);
}

/**
 * Whether a reload from `current` keeps the sockets of a new definition: a service of the same
 * id is served now on the same sockets (socketsKey). Those are bound already, so they bind
 * before anything new (the order port clashes are decided in, config.ts).
 */
export function keepsSockets(current: readonly Service[], keyOf: (s: Service) => string = socketsKey): (s: Service) => boolean {
  const before = new Map(current.map((s) => [s.id, keyOf(s)]));
  return (s) => before.get(s.id) === keyOf(s);
}

/**
 * By service id: what a reload from `current` to `next` keeps, restarts, adds and removes;
 * `kept` is keepsSockets(current), when the pass has it already.
 */
export function planReload(current: readonly Service[], next: readonly Service[], kept = keepsSockets(current)): ReloadPlan {
  const plan: ReloadPlan = { keep: [], restart: [], add: [], remove: [] };
  const before = new Map(current.map((s) => [s.id, s]));
  const after = new Set(next.map((s) => s.id));
  for (const s of next) {
    const old = before.get(s.id);
    if (old === undefined) plan.add.push(s);
    else if (kept(s)) plan.keep.push(s);
    else plan.restart.push({ from: old, to: s });
  }
  for (const s of current) if (!after.has(s.id)) plan.remove.push(s);
  return plan;
}
