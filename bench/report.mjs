// report.mjs - turns the benchmark's raw measurements into markdown: medians over rounds,
// failures summed over rounds, and every figure also as a ratio to xinetd in the same run.

const MiB = 1024;

function median(values) {
  const v = values.filter((x) => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return null;
  const mid = v.length >> 1;
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

function num(x, digits = 0) {
  if (x === null || x === undefined) return '–';
  return x.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/** "value (×ratio)" against the xinetd figure; the ratio is left out for xinetd itself. */
function withRatio(value, reference, digits, isReference) {
  const text = num(value, digits);
  if (isReference || value === null || !reference) return text;
  return `${text} (×${(value / reference).toFixed(2)})`;
}

/** (scenario, server, concurrency) → medians and totals over rounds. */
export function aggregate(results) {
  const byKey = new Map();
  for (const r of results) {
    const key = `${r.scenario}/${r.server}`;
    if (!byKey.has(key)) byKey.set(key, { errors: [], idleKiB: [], helpers: new Set(), byConc: new Map() });
    const a = byKey.get(key);
    if (r.error) a.errors.push(`round ${r.round + 1}: ${r.error}`);
    if (r.idle) a.idleKiB.push(r.idle.totalKiB);
    for (const h of r.helpers ?? []) a.helpers.add(h.comm);
    for (const [c, run] of Object.entries(r.runs ?? {})) {
      if (!a.byConc.has(Number(c))) {
        a.byConc.set(Number(c), { rate: [], p50: [], p99: [], cpu: [], helperCpu: [], rssMax: [], clientCpu: [], failed: 0, lost: 0, ok: 0 });
      }
      const b = a.byConc.get(Number(c));
      const lg = run.loadgen;
      b.rate.push(lg.rate);
      if (lg.ok > 0) {
        b.p50.push(lg.latency_ms.p50);
        b.p99.push(lg.latency_ms.p99);
      }
      b.cpu.push(run.cpuUsPerConn);
      b.helperCpu.push(run.helperCpuUsPerConn);
      b.rssMax.push(run.rssMaxKiB);
      b.clientCpu.push(lg.client_cpu);
      b.ok += lg.ok;
      if (lg.proto === 'udp') {
        b.lost += lg.failures.timeout;
        b.failed += lg.failed - lg.failures.timeout;
      } else {
        b.failed += lg.failed;
      }
    }
  }
  const out = new Map();
  for (const [key, a] of byKey) {
    const conc = new Map();
    for (const [c, b] of a.byConc) {
      conc.set(c, {
        rate: median(b.rate),
        p50: median(b.p50),
        p99: median(b.p99),
        cpu: median(b.cpu),
        helperCpu: median(b.helperCpu),
        rssMax: median(b.rssMax),
        clientCpu: median(b.clientCpu),
        failed: b.failed,
        lost: b.lost,
        ok: b.ok,
      });
    }
    out.set(key, { errors: a.errors, idle: median(a.idleKiB), helpers: [...a.helpers], conc });
  }
  return out;
}

function label(server, meta) {
  return server === 'tsinetd' && meta.tsinetdSpawner ? `tsinetd (${meta.tsinetdSpawner} spawner)` : server;
}

function scenarioTable(s, agg, meta) {
  const lines = [`### ${s.id}: ${s.title}`, ''];
  const present = s.servers.filter((srv) => agg.has(`${s.id}/${srv}`));
  if (present.length === 0) return [];
  const udp = s.proto === 'udp';
  lines.push(
    `| server | c | ${udp ? 'replies/s' : 'conns/s'} | p50 ms | p99 ms | failed | ${udp ? 'lost | ' : ''}daemon CPU µs/${udp ? 'reply' : 'conn'} | of which helpers | RSS max MiB | client CPU |`,
    `|---|---:|---:|---:|---:|---:|${udp ? '---:|' : ''}---:|---:|---:|---:|`,
  );
  const ref = agg.get(`${s.id}/xinetd`);
  for (const srv of present) {
    const a = agg.get(`${s.id}/${srv}`);
    const isRef = srv === 'xinetd';
    for (const c of meta.concs) {
      const b = a.conc.get(c);
      if (!b) continue;
      const x = ref?.conc.get(c);
      const helpers = a.helpers.length ? num(b.helperCpu) : '–';
      lines.push(
        `| ${label(srv, meta)} | ${c} | ${withRatio(b.rate, x?.rate, 0, isRef)} | ${withRatio(b.p50, x?.p50, 2, isRef)} | ` +
          `${withRatio(b.p99, x?.p99, 2, isRef)} | ${b.failed} | ${udp ? `${b.lost} | ` : ''}` +
          `${withRatio(b.cpu, x?.cpu, 0, isRef)} | ${helpers} | ` +
          `${withRatio(b.rssMax === null ? null : b.rssMax / MiB, x?.rssMax ? x.rssMax / MiB : null, 1, isRef)} | ${num(b.clientCpu, 2)} |`,
      );
    }
  }
  for (const srv of present) {
    for (const e of agg.get(`${s.id}/${srv}`).errors) lines.push('', `**${srv} error:** ${e.slice(0, 300)}`);
  }
  lines.push('');
  return lines;
}

/** The largest median RSS over the concurrencies of one (scenario, server), or null. */
function largestRss(a) {
  const values = [...a.conc.values()].map((b) => b.rssMax).filter((x) => x);
  return values.length ? Math.max(...values) : null;
}

function memoryTable(list, agg, meta) {
  const lines = [
    '### Memory: VmRSS of the daemon plus its long-lived helpers, MiB (medians over rounds)',
    '',
    '| scenario | server | idle | max under load | helpers counted |',
    '|---|---|---:|---:|---|',
  ];
  for (const s of list) {
    const ref = agg.get(`${s.id}/xinetd`);
    const refMax = ref ? largestRss(ref) : null;
    for (const srv of s.servers) {
      const a = agg.get(`${s.id}/${srv}`);
      if (!a) continue;
      const max = largestRss(a);
      const isRef = srv === 'xinetd';
      lines.push(
        `| ${s.id} | ${label(srv, meta)} | ${withRatio(a.idle === null ? null : a.idle / MiB, ref?.idle ? ref.idle / MiB : null, 1, isRef)} | ` +
          `${withRatio(max ? max / MiB : null, refMax ? refMax / MiB : null, 1, isRef)} | ${a.helpers.join(', ') || 'none'} |`,
      );
    }
  }
  lines.push('');
  return lines;
}

/** One line per scenario and concurrency: tsinetd ÷ xinetd for the headline figures. */
function summaryTable(list, agg, meta) {
  const lines = [
    '### tsinetd ÷ xinetd at a glance',
    '',
    'Throughput: above 1 is better; latency, CPU and memory: below 1 is better.',
    '',
    '| scenario | c | conns/s | p99 latency | daemon CPU/conn | RSS max | tsinetd conns/s ÷ fork limit | xinetd ÷ fork limit |',
    '|---|---:|---:|---:|---:|---:|---:|---:|',
  ];
  const ratio = (a, b) => (a !== null && b ? (a / b).toFixed(2) : '–');
  let any = false;
  for (const s of list) {
    const t = agg.get(`${s.id}/tsinetd`);
    const x = agg.get(`${s.id}/xinetd`);
    const f = agg.get(`${s.id}/forklimit`);
    if (!t || !x) continue;
    for (const c of meta.concs) {
      const tb = t.conc.get(c);
      const xb = x.conc.get(c);
      if (!tb || !xb) continue;
      any = true;
      const fb = f?.conc.get(c);
      lines.push(
        `| ${s.id} | ${c} | ${ratio(tb.rate, xb.rate)} | ${ratio(tb.p99, xb.p99)} | ${ratio(tb.cpu, xb.cpu)} | ` +
          `${ratio(tb.rssMax, xb.rssMax)} | ${ratio(tb.rate, fb?.rate)} | ${ratio(xb.rate, fb?.rate)} |`,
      );
    }
  }
  lines.push('');
  return any ? lines : [];
}

/** Scenarios read against another scenario of the same server (S1w against S1: the cost of TCP wrappers). */
function sameServerTable(list, agg, meta) {
  const ratio = (a, b) => (a !== null && b ? (a / b).toFixed(2) : '–');
  const lines = [];
  for (const s of list) {
    if (!s.sameServerBaseline) continue;
    for (const server of ['tsinetd', 'xinetd']) {
      const w = agg.get(`${s.id}/${server}`);
      const b = agg.get(`${s.sameServerBaseline}/${server}`);
      if (!w || !b) continue;
      for (const c of meta.concs) {
        const wb = w.conc.get(c);
        const bb = b.conc.get(c);
        if (!wb || !bb) continue;
        if (lines.length === 0) {
          lines.push(
            `### ${s.id} ÷ ${s.sameServerBaseline}, each server against itself`,
            '',
            '| server | c | conns/s | p99 latency | daemon CPU/conn |',
            '|---|---:|---:|---:|---:|',
          );
        }
        lines.push(`| ${server} | ${c} | ${ratio(wb.rate, bb.rate)} | ${ratio(wb.p99, bb.p99)} | ${ratio(wb.cpu, bb.cpu)} |`);
      }
    }
  }
  if (lines.length > 0) lines.push('');
  return lines;
}

/** The whole markdown report. */
export function renderReport(results, meta, list) {
  const agg = aggregate(results);
  const la = meta.loadAverage;
  const head = [
    `## tsinetd vs xinetd — run ${meta.stamp}`,
    '',
    `- machine: ${meta.cpus} CPUs (${meta.cpuModel}), Linux ${meta.kernel}, Node ${meta.node}`,
    `- xinetd ${meta.xinetdVersion ?? 'not run'}; tsinetd ${meta.tsinetdVersion ?? 'not run'}` +
      (meta.tsinetdSpawner ? `, ${meta.tsinetdSpawner} spawner` : ''),
    `- settings: DUR=${meta.dur}s ROUNDS=${meta.rounds} CONCS="${meta.concs.join(' ')}" WARM=${meta.warm}s ` +
      `XLOG=${meta.log ? 1 : 0} UDP_TIMEOUT_MS=${meta.udpTimeoutMs}; ${meta.elapsedS.toFixed(0)} s in all`,
    `- load average (1 min) during the run: min ${num(la.min, 2)}, median ${num(la.median, 2)}, max ${num(la.max, 2)}`,
    '- figures are medians over rounds; "failed"/"lost" are totals over rounds; (×n) = ratio to xinetd at the same c.',
    '- daemon CPU = CPU time of the daemon process (all threads) and of its long-lived helper processes (not',
    '  per-connection children), from /proc (per-thread schedstat ns; utime+stime ticks if a thread ended),',
    '  per successful connection; "of which helpers" is the helpers\' share (tsinetd: tsinetd-spawnd, its',
    '  native spawner, when used). RSS likewise sums daemon and helpers.',
    '',
  ];
  return (
    [
      ...head,
      ...summaryTable(list, agg, meta),
      ...sameServerTable(list, agg, meta),
      ...list.flatMap((s) => scenarioTable(s, agg, meta)),
      ...memoryTable(list, agg, meta),
    ].join('\n') + '\n'
  );
}

export { median };

/** A figure for the scale and children tables: ms as ms or s, KiB as MiB, '–' when missing. */
export function fmtFigure(v, unit) {
  if (v === null || v === undefined || Number.isNaN(v)) return '–';
  if (unit === 'ms') return v >= 1000 ? `${(v / 1000).toFixed(2)} s` : `${v.toFixed(0)} ms`;
  if (unit === 'KiB') return `${(v / 1024).toFixed(1)} MiB`;
  return String(v);
}

/** tsinetd's figure over xinetd's, as `1.23x`; '–' when either is missing or xinetd's is 0. */
export function ratioText(a, b) {
  return a === null || b === null || !b ? '–' : `${(a / b).toFixed(2)}x`;
}
