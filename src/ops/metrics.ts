// Metrics: a small registry (counters, gauges, histograms with fixed buckets), the Prometheus
// text exposition format 0.0.4 (renderPrometheus, pure), and tsinetd's own metrics.
//
// The serving hot path only ever does `cell.value++` on a cell found through one Map lookup
// by service id (ServeMetrics); everything that costs more (running servers, service states,
// process figures) is computed when the endpoint is scraped.

import { openDescriptors, softFileLimit } from '../sys/proc-self.js';
import type { FailReason } from '../admission/admission-types.js';
import type { Service } from '../table.js';

// ---- the exposition format ----------------------------------------------------------------

export type Labels = Readonly<Record<string, string>>;

export interface Sample {
  labels: Labels;
  value: number;
}

export interface HistogramSample {
  labels: Labels;
  /** Upper bounds of the finite buckets, increasing. */
  bounds: readonly number[];
  /** Observations per bucket, NOT cumulative; one more than bounds (the last is +Inf). */
  counts: readonly number[];
  sum: number;
}

export type MetricFamily =
  | { name: string; help: string; type: 'counter' | 'gauge'; samples: readonly Sample[] }
  | { name: string; help: string; type: 'histogram'; samples: readonly HistogramSample[] };

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** The content type of renderPrometheus's output. */
export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

function escapeHelp(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** A sample value as the format spells it (Go's ParseFloat reads every form produced). */
export function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

function labelText(labels: Labels, extra?: [string, string]): string {
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabelValue(v)}"`);
  if (extra !== undefined) parts.push(`${extra[0]}="${escapeLabelValue(extra[1])}"`);
  return parts.length === 0 ? '' : `{${parts.join(',')}}`;
}

function familyLines(f: MetricFamily): string[] {
  const lines = [`# HELP ${f.name} ${escapeHelp(f.help)}`, `# TYPE ${f.name} ${f.type}`];
  if (f.type !== 'histogram') {
    for (const s of f.samples) lines.push(`${f.name}${labelText(s.labels)} ${formatValue(s.value)}`);
    return lines;
  }
  for (const h of f.samples) {
    let cumulative = 0;
    h.bounds.forEach((bound, i) => {
      cumulative += h.counts[i] ?? 0;
      lines.push(`${f.name}_bucket${labelText(h.labels, ['le', formatValue(bound)])} ${cumulative}`);
    });
    cumulative += h.counts[h.bounds.length] ?? 0;
    lines.push(`${f.name}_bucket${labelText(h.labels, ['le', '+Inf'])} ${cumulative}`);
    lines.push(`${f.name}_sum${labelText(h.labels)} ${formatValue(h.sum)}`);
    lines.push(`${f.name}_count${labelText(h.labels)} ${cumulative}`);
  }
  return lines;
}

/** The text exposition format 0.0.4: HELP and TYPE lines, then the samples of each family. */
export function renderPrometheus(source: Registry | readonly MetricFamily[]): string {
  const families = source instanceof Registry ? source.collect() : source;
  const lines: string[] = [];
  for (const f of families) lines.push(...familyLines(f));
  return lines.length === 0 ? '' : lines.join('\n') + '\n';
}

// ---- the registry -------------------------------------------------------------------------

/** One labelled value; hot paths keep the cell and do `cell.value++`. */
export interface Cell {
  value: number;
}

interface Metric {
  readonly name: string;
  collect(): MetricFamily;
}

function checkLabelNames(metric: string, names: readonly string[]): void {
  for (const n of names) {
    if (!LABEL_NAME.test(n) || n.startsWith('__') || n === 'le') throw new Error(`metric ${metric}: invalid label name '${n}'`);
  }
}

function labelsOf(names: readonly string[], values: readonly string[]): Labels {
  const labels: Record<string, string> = {};
  names.forEach((n, i) => {
    labels[n] = values[i] ?? '';
  });
  return labels;
}

/** Samples in a stable order: by their label values. */
function byLabels<T extends { key: string }>(cells: Iterable<T>): T[] {
  return [...cells].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

/** The cells of one metric: one per combination of label values, made by `make` on first use. */
class LabelledCells<C> {
  private readonly cells = new Map<string, { key: string; labels: Labels; cell: C }>();

  constructor(
    private readonly metric: string,
    readonly labelNames: readonly string[],
    private readonly make: () => C,
  ) {
    checkLabelNames(metric, labelNames);
  }

  /** The cell for these label values (in labelNames order). */
  get(values: readonly string[]): C {
    if (values.length !== this.labelNames.length) {
      throw new Error(`metric ${this.metric}: ${this.labelNames.length} label value(s) expected, got ${values.length}`);
    }
    const key = values.join('\u0000');
    let entry = this.cells.get(key);
    if (entry === undefined) {
      entry = { key, labels: labelsOf(this.labelNames, values), cell: this.make() };
      this.cells.set(key, entry);
    }
    return entry.cell;
  }

  clear(): void {
    this.cells.clear();
  }

  /** Every cell with its labels, in a stable order. */
  sorted(): Array<{ labels: Labels; cell: C }> {
    return byLabels(this.cells.values());
  }
}

/** A counter or gauge with a fixed set of label names; one cell per combination of values. */
abstract class ScalarMetric implements Metric {
  private readonly cells: LabelledCells<Cell>;
  protected abstract readonly type: 'counter' | 'gauge';

  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[] = [],
  ) {
    this.cells = new LabelledCells(name, labelNames, () => ({ value: 0 }));
    // A metric without labels is exposed (at 0) from the start.
    if (labelNames.length === 0) this.cell();
  }

  /** The cell for these label values (in labelNames order), created at 0. */
  cell(...values: string[]): Cell {
    return this.cells.get(values);
  }

  /** Removes every cell (gauges that are recomputed as a whole). */
  reset(): void {
    this.cells.clear();
  }

  collect(): MetricFamily {
    const samples = this.cells.sorted().map((e) => ({ labels: e.labels, value: e.cell.value }));
    return { name: this.name, help: this.help, type: this.type, samples };
  }
}

export class Counter extends ScalarMetric {
  protected readonly type = 'counter';

  inc(values: readonly string[] = [], by = 1): void {
    this.cell(...values).value += by;
  }
}

export class Gauge extends ScalarMetric {
  protected readonly type = 'gauge';

  set(values: readonly string[], value: number): void {
    this.cell(...values).value = value;
  }
}

/** An observation counter per bucket; `observe` is a short scan of the bounds. */
export class HistogramCell {
  readonly counts: number[];
  sum = 0;

  constructor(readonly bounds: readonly number[]) {
    this.counts = new Array<number>(bounds.length + 1).fill(0);
  }

  observe(v: number): void {
    let i = 0; // the first bucket whose bound is at least v; the last (+Inf) when none is
    for (const bound of this.bounds) {
      if (v <= bound) break;
      i++;
    }
    this.counts[i] = (this.counts[i] ?? 0) + 1;
    this.sum += v;
  }
}

export class Histogram implements Metric {
  private readonly cells: LabelledCells<HistogramCell>;
  readonly bounds: readonly number[];

  constructor(
    readonly name: string,
    readonly help: string,
    bounds: readonly number[],
    readonly labelNames: readonly string[] = [],
  ) {
    let previous = -Infinity;
    for (const bound of bounds) {
      if (!Number.isFinite(bound) || bound <= previous) throw new Error(`metric ${name}: bucket bounds must be finite and increasing`);
      previous = bound;
    }
    this.bounds = [...bounds];
    this.cells = new LabelledCells(name, labelNames, () => new HistogramCell(this.bounds));
    if (labelNames.length === 0) this.cell();
  }

  cell(...values: string[]): HistogramCell {
    return this.cells.get(values);
  }

  observe(values: readonly string[], v: number): void {
    this.cell(...values).observe(v);
  }

  collect(): MetricFamily {
    const samples = this.cells.sorted().map((e) => ({ labels: e.labels, bounds: this.bounds, counts: [...e.cell.counts], sum: e.cell.sum }));
    return { name: this.name, help: this.help, type: 'histogram', samples };
  }
}

/** The metrics of one process, in registration order; `beforeCollect` hooks refresh gauges. */
export class Registry {
  private readonly metrics: Metric[] = [];
  private readonly hooks: Array<() => void> = [];

  register<M extends Metric>(metric: M): M {
    if (!METRIC_NAME.test(metric.name)) throw new Error(`invalid metric name '${metric.name}'`);
    if (this.metrics.some((m) => m.name === metric.name)) throw new Error(`metric ${metric.name} registered twice`);
    this.metrics.push(metric);
    return metric;
  }

  counter(name: string, help: string, labelNames: readonly string[] = []): Counter {
    return this.register(new Counter(name, help, labelNames));
  }

  gauge(name: string, help: string, labelNames: readonly string[] = []): Gauge {
    return this.register(new Gauge(name, help, labelNames));
  }

  histogram(name: string, help: string, bounds: readonly number[], labelNames: readonly string[] = []): Histogram {
    return this.register(new Histogram(name, help, bounds, labelNames));
  }

  /** Runs `hook` before every collection (scrape-time gauges). */
  beforeCollect(hook: () => void): void {
    this.hooks.push(hook);
  }

  collect(): MetricFamily[] {
    for (const hook of this.hooks) hook();
    return this.metrics.map((m) => m.collect());
  }
}

// ---- tsinetd's metrics --------------------------------------------------------------------

/** What serving reports; every call is a counter increment or one histogram observation. */
export interface ServeMetrics {
  /** A client (connection, datagram, or wait = yes start) passed admission. */
  accepted(service: Service): void;
  /** A client was refused, for this reason. */
  refused(service: Service, reason: FailReason): void;
  /** A server program's pid is known, `seconds` after its client was accepted. */
  spawned(service: Service, seconds: number): void;
  /** A server program could not be started. */
  spawnFailed(service: Service): void;
}

/** What a service is doing now, for tsinetd_services{state}. */
export type ServiceState = 'active' | 'suspended' | 'disabled' | 'failed';
export const SERVICE_STATES: readonly ServiceState[] = ['active', 'suspended', 'disabled', 'failed'];

/** What the daemon tells the metrics at scrape time. */
export interface MetricsSource {
  /** Every service of the current configuration with its state. */
  services(): Array<{ service: Service; state: ServiceState }>;
  /** Running servers of a service (programs, internal services, redirects). */
  running(service: Service): number;
}

/** Spawn latency buckets, in seconds: the native spawner takes about a millisecond. */
export const SPAWN_BUCKETS: readonly number[] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

export type ReloadResult = 'ok' | 'failed';

interface ServiceCells {
  accepted: Cell;
  refused: Cell;
  spawnFailures: Cell;
  byReason: Map<FailReason, Cell>;
}

/** What /proc says about this process (Linux); null fields when it cannot be read. */
export interface ProcessFigures {
  openFds: number | null;
  maxFds: number | null;
}

function readProcessFigures(): ProcessFigures {
  let openFds: number | null = null;
  try {
    openFds = openDescriptors();
  } catch {
    // not Linux, or no descriptor left to look with
  }
  return { openFds, maxFds: softFileLimit() };
}

export interface TsinetdMetricsOptions {
  version: string;
  /** Process start time in seconds since the epoch (default: now minus the uptime). */
  startTimeSeconds?: number;
  /** Reads open/max fds (default: /proc/self). */
  processFigures?: () => ProcessFigures;
}

/** The registry with tsinetd's metrics, fed by serving (ServeMetrics) and by the daemon. */
export class TsinetdMetrics implements ServeMetrics {
  readonly registry = new Registry();
  private readonly connections: Counter;
  private readonly refusals: Counter;
  private readonly spawnFailures: Counter;
  private readonly spawnSeconds: HistogramCell;
  private readonly reloadCells: Record<ReloadResult, Cell>;
  private readonly perService = new Map<string, ServiceCells>();
  private source: MetricsSource | null = null;

  constructor(opts: TsinetdMetricsOptions) {
    const r = this.registry;
    this.connections = r.counter(
      'tsinetd_connections_total',
      'Clients handled per service, by result (accepted: passed admission; refused: see tsinetd_refused_total).',
      ['service', 'result'],
    );
    this.refusals = r.counter('tsinetd_refused_total', 'Clients refused per service, by the reason of the FAIL line.', ['service', 'reason']);
    const running = r.gauge('tsinetd_running_servers', 'Servers running now per service (programs, internal services, redirects).', ['service']);
    const spawn = r.histogram('tsinetd_spawn_seconds', 'Time from accepting a client to knowing the pid of its server program.', SPAWN_BUCKETS);
    this.spawnSeconds = spawn.cell();
    this.spawnFailures = r.counter('tsinetd_spawn_failures_total', 'Server programs that could not be started, per service.', ['service']);
    const services = r.gauge(
      'tsinetd_services',
      'Services of the configuration by state (active: listening; suspended: deactivated for a while; disabled; failed: not served because of a problem).',
      ['state'],
    );
    const reloads = r.counter('tsinetd_reloads_total', 'Configuration reloads (SIGHUP) by result.', ['result']);
    this.reloadCells = { ok: reloads.cell('ok'), failed: reloads.cell('failed') };
    r.gauge('tsinetd_build_info', 'Always 1; the version label says which tsinetd runs.', ['version']).set([opts.version], 1);
    const rss = r.gauge('process_resident_memory_bytes', 'Resident memory size in bytes.');
    const cpu = r.counter('process_cpu_seconds_total', 'User and system CPU time spent in seconds.');
    const openFds = r.gauge('process_open_fds', 'Number of open file descriptors.');
    const maxFds = r.gauge('process_max_fds', 'Maximum number of open file descriptors.');
    const start = r.gauge('process_start_time_seconds', 'Start time of the process since unix epoch in seconds.');
    start.set([], opts.startTimeSeconds ?? Math.round(Date.now() / 1000 - process.uptime()));
    const figures = opts.processFigures ?? readProcessFigures;

    r.beforeCollect(() => {
      running.reset();
      services.reset();
      for (const state of SERVICE_STATES) services.set([state], 0);
      const src = this.source;
      if (src !== null) {
        for (const { service, state } of src.services()) {
          services.cell(state).value++;
          // The counters of a served service appear at 0 before its first client.
          if (state !== 'disabled') this.cells(service);
          if (state === 'active' || state === 'suspended') running.set([service.id], src.running(service));
        }
      }
      rss.set([], process.memoryUsage.rss());
      const usage = process.cpuUsage();
      cpu.cell().value = (usage.user + usage.system) / 1e6;
      const f = figures();
      openFds.reset();
      maxFds.reset();
      if (f.openFds !== null) openFds.set([], f.openFds);
      if (f.maxFds !== null) maxFds.set([], f.maxFds);
    });
  }

  /** Where scrape-time figures come from (the daemon, once it serves). */
  setSource(source: MetricsSource | null): void {
    this.source = source;
  }

  private cells(service: Service): ServiceCells {
    let c = this.perService.get(service.id);
    if (c === undefined) {
      c = {
        accepted: this.connections.cell(service.id, 'accepted'),
        refused: this.connections.cell(service.id, 'refused'),
        spawnFailures: this.spawnFailures.cell(service.id),
        byReason: new Map(),
      };
      this.perService.set(service.id, c);
    }
    return c;
  }

  accepted(service: Service): void {
    this.cells(service).accepted.value++;
  }

  refused(service: Service, reason: FailReason): void {
    const c = this.cells(service);
    c.refused.value++;
    let r = c.byReason.get(reason);
    if (r === undefined) {
      r = this.refusals.cell(service.id, reason);
      c.byReason.set(reason, r);
    }
    r.value++;
  }

  spawned(_service: Service, seconds: number): void {
    this.spawnSeconds.observe(seconds);
  }

  spawnFailed(service: Service): void {
    this.cells(service).spawnFailures.value++;
  }

  reloaded(result: ReloadResult): void {
    this.reloadCells[result].value++;
  }

  render(): string {
    return renderPrometheus(this.registry);
  }
}

/**
 * The state of each service of a table: disabled (not enabled), active or suspended (its
 * listener's state; a listener reopening after a suspension counts as suspended), failed
 * (enabled but without a listener: a problem, an access list that disables it, a bind error
 * even while it is retried).
 */
export function serviceStates(
  services: readonly Service[],
  listenerStates: ReadonlyMap<string, 'new' | 'active' | 'suspended' | 'retrying' | 'closed'>,
): Array<{ service: Service; state: ServiceState }> {
  return services.map((service) => {
    if (!service.enabled) return { service, state: 'disabled' as const };
    const l = listenerStates.get(service.id);
    const state: ServiceState = l === 'active' ? 'active' : l === 'suspended' || l === 'new' ? 'suspended' : 'failed';
    return { service, state };
  });
}
