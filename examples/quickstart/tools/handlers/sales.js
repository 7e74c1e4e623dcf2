// Handlers of the demo's data and insight tools. Plain functions: (input, ctx) => output.
import { salesRows, REGIONS } from './dataset.js';

const DAY = 86_400_000;
const round = (n) => Math.round(n * 100) / 100;

function inPeriod(period) {
  if (!period || typeof period.from !== 'string' || typeof period.to !== 'string') {
    throw new Error('period must be { from: "YYYY-MM-DD", to: "YYYY-MM-DD" }');
  }
  return (row) => row.date >= period.from && row.date <= period.to;
}

function regionMatch(region) {
  if (region === undefined || region === null || region === '' || region === 'all') return () => true;
  const wanted = (Array.isArray(region) ? region : [region]).map((r) => String(r).toLowerCase());
  const known = REGIONS.filter((r) => wanted.includes(r.toLowerCase()));
  if (known.length === 0)
    throw new Error(`unknown region ${JSON.stringify(region)}; known: ${REGIONS.join(', ')}`);
  return (row) => known.includes(row.region);
}

function previousPeriod(period) {
  const from = Date.parse(`${period.from}T00:00:00Z`);
  const to = Date.parse(`${period.to}T00:00:00Z`);
  const len = to - from + DAY;
  const iso = (t) => new Date(t).toISOString().slice(0, 10);
  return { from: iso(from - len), to: iso(to - len) };
}

function group(rows, key) {
  const m = new Map();
  for (const r of rows) {
    const k = key === 'month' ? r.date.slice(0, 7) : r[key];
    const g = m.get(k) ?? { [key]: k, revenue: 0, units: 0, orders: 0 };
    g.revenue += r.revenue;
    g.units += r.units;
    g.orders += 1;
    m.set(k, g);
  }
  return [...m.values()]
    .map((g) => ({ ...g, revenue: round(g.revenue) }))
    .sort((a, b) => b.revenue - a.revenue);
}

/** sales.query — filter and aggregate. */
export async function query(input, ctx) {
  const groupBy = input.groupBy ?? 'region';
  ctx.progress(`querying sales ${input.period?.from} → ${input.period?.to}`, 10);
  const all = salesRows();
  const keep = inPeriod(input.period);
  const region = regionMatch(input.region);
  const rows = all.filter((r) => keep(r) && region(r));
  ctx.progress(`${rows.length} records matched`, 60);
  const prev = previousPeriod(input.period);
  const keepPrev = inPeriod(prev);
  const previousRevenue = round(
    all.filter((r) => keepPrev(r) && region(r)).reduce((s, r) => s + r.revenue, 0),
  );
  const daily = group(rows, 'date')
    .map(({ date, revenue }) => ({ date, revenue }))
    .sort((a, b) => (a.date < b.date ? -1 : 1));
  const totalRevenue = round(rows.reduce((s, r) => s + r.revenue, 0));
  ctx.progress('aggregated', 100);
  return {
    summary: `${rows.length} sales records, revenue ${totalRevenue.toLocaleString('en-US')} (${groupBy} breakdown)`,
    period: input.period,
    region: input.region ?? 'all',
    groupBy,
    totalRevenue,
    totalUnits: rows.reduce((s, r) => s + r.units, 0),
    previousRevenue,
    rows: group(rows, groupBy),
    byProduct: group(rows, 'product').slice(0, 5),
    daily,
  };
}

/** sales.insights — growth, top/bottom, anomalies (z-score on daily revenue). */
export async function insights(input, ctx) {
  const rows = Array.isArray(input.rows) ? input.rows : [];
  const daily = Array.isArray(input.daily) ? input.daily : [];
  ctx.progress('computing growth and rankings', 30);
  const total = rows.reduce((s, r) => s + (r.revenue ?? 0), 0);
  const growthPct = input.previousRevenue
    ? round(((total - input.previousRevenue) / input.previousRevenue) * 100)
    : null;
  const key = Object.keys(rows[0] ?? {}).find((k) => !['revenue', 'units', 'orders'].includes(k)) ?? 'key';
  const sorted = [...rows].sort((a, b) => b.revenue - a.revenue);
  const top = sorted[0];
  const bottom = sorted.at(-1);
  ctx.progress('looking for anomalies', 70);
  const values = daily.map((d) => d.revenue);
  const mean = values.reduce((s, v) => s + v, 0) / Math.max(1, values.length);
  const sd = Math.sqrt(values.reduce((s, v) => s + (v - mean) ** 2, 0) / Math.max(1, values.length));
  const anomalies = daily
    .map((d) => ({ date: d.date, revenue: d.revenue, z: sd ? round((d.revenue - mean) / sd) : 0 }))
    .filter((d) => Math.abs(d.z) >= 3)
    .sort((a, b) => Math.abs(b.z) - Math.abs(a.z))
    .slice(0, 5);
  const share = sorted.map((r) => ({
    [key]: r[key],
    revenue: r.revenue,
    sharePct: total ? round((r.revenue / total) * 100) : 0,
  }));
  ctx.progress('done', 100);
  const parts = [];
  if (growthPct !== null)
    parts.push(`revenue ${growthPct >= 0 ? 'up' : 'down'} ${Math.abs(growthPct)}% on the previous period`);
  if (top) parts.push(`${top[key]} leads with ${top.revenue.toLocaleString('en-US')}`);
  if (bottom && bottom !== top)
    parts.push(`${bottom[key]} trails with ${bottom.revenue.toLocaleString('en-US')}`);
  if (anomalies.length)
    parts.push(
      `${anomalies.length} unusual day${anomalies.length > 1 ? 's' : ''} (largest ${anomalies[0].date})`,
    );
  return {
    summary: parts.join('; '),
    totalRevenue: round(total),
    growthPct,
    top: top?.[key] ?? null,
    bottom: bottom?.[key] ?? null,
    share,
    anomalies,
  };
}
