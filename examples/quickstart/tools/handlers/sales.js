// Handlers of the demo's data and insight tools. Plain functions: (input, ctx) => output.
//
// Every figure an answer states is computed here, and every filter the user named is applied here or
// refused with an error naming it: a request is never answered about something else than was asked.
import { salesRows, REGIONS, PRODUCTS, CHANNELS } from './dataset.js';

const DAY = 86_400_000;
const round = (n) => Math.round(n * 100) / 100;
const iso = (t) => new Date(t).toISOString().slice(0, 10);
const parse = (d) => Date.parse(`${d}T00:00:00Z`);
const METRICS = ['revenue', 'units'];
const GROUPS = ['region', 'product', 'channel', 'month', 'week', 'day', 'quarter'];
const TIME_GROUPS = ['month', 'week', 'day', 'quarter'];

/** Compact figure for sentences: 12.84 M, 845.2 k, 312. */
export function compact(n, metric = 'revenue') {
  if (metric === 'units') return Math.round(n).toLocaleString('en-US');
  const abs = Math.abs(n);
  if (abs >= 1e6) return `${(n / 1e6).toFixed(2)} M`;
  if (abs >= 1e3) return `${(n / 1e3).toFixed(1)} k`;
  return String(Math.round(n));
}
const pct = (n) => `${Math.abs(n).toFixed(1)}%`;
const list = (xs) => (xs.length <= 1 ? (xs[0] ?? '') : `${xs.slice(0, -1).join(', ')} and ${xs.at(-1)}`);
const plural = (n, one, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;
const metricWord = (m) => (m === 'units' ? 'units sold' : 'revenue');

function asList(v, known, what) {
  if (v === undefined || v === null || v === '' || v === 'all') return [];
  const wanted = (Array.isArray(v) ? v : [v]).map((x) => String(x));
  const out = [];
  for (const w of wanted) {
    const k = known.find((x) => x.toLowerCase() === w.toLowerCase());
    if (!k) throw new Error(`unknown ${what} ${JSON.stringify(w)}; known: ${known.join(', ')}`);
    if (!out.includes(k)) out.push(k);
  }
  return out;
}

/** The period to read, cut at the clock's today (the dataset also holds planned, future days). */
function periodOf(period, ctx) {
  if (!period || typeof period.from !== 'string' || typeof period.to !== 'string') {
    throw new Error('period must be { from: "YYYY-MM-DD", to: "YYYY-MM-DD" }');
  }
  const today = iso(ctx.clock?.now?.() ?? Date.now());
  if (period.from > today) throw new Error(`the period ${period.from} – ${period.to} has not started yet`);
  const to = period.to > today ? today : period.to;
  const cut = to !== period.to;
  return {
    from: period.from,
    to,
    label: cut
      ? `${period.label ?? `${period.from} – ${period.to}`} to date`
      : (period.label ?? `${period.from} – ${period.to}`),
    toDate: period.toDate === true || cut,
    previous:
      period.previous && typeof period.previous.from === 'string'
        ? period.previous
        : sameLengthBefore(period.from, to),
  };
}

function sameLengthBefore(from, to) {
  const len = parse(to) - parse(from) + DAY;
  const days = Math.round(len / DAY);
  return {
    from: iso(parse(from) - len),
    to: iso(parse(from) - DAY),
    label: `the previous ${plural(days, 'day')}`,
  };
}

/** Filters of a request, validated: regions, excluded regions, products, excluded products, channels. */
function filtersOf(input) {
  const f = {
    region: asList(input.region, REGIONS, 'region'),
    exclude: asList(input.exclude, REGIONS, 'region'),
    product: asList(input.product, PRODUCTS, 'product'),
    excludeProduct: asList(input.excludeProduct, PRODUCTS, 'product'),
    channel: asList(input.channel, CHANNELS, 'channel'),
  };
  const both = f.region.filter((r) => f.exclude.includes(r));
  if (both.length) throw new Error(`${list(both)} is both included and excluded`);
  return f;
}
function matches(f) {
  return (r) =>
    (f.region.length === 0 || f.region.includes(r.region)) &&
    !f.exclude.includes(r.region) &&
    (f.product.length === 0 || f.product.includes(r.product)) &&
    !f.excludeProduct.includes(r.product) &&
    (f.channel.length === 0 || f.channel.includes(r.channel));
}
/** "EMEA and APAC", "all regions except EMEA", "Atlas Laptop in EMEA, online". */
function scopeOf(f) {
  const parts = [];
  if (f.product.length) parts.push(list(f.product));
  if (f.excludeProduct.length) parts.push(`all products except ${list(f.excludeProduct)}`);
  if (f.region.length) parts.push(`${parts.length ? 'in ' : ''}${list(f.region)}`);
  else if (f.exclude.length) parts.push(`${parts.length ? 'in ' : ''}all regions except ${list(f.exclude)}`);
  if (f.channel.length) parts.push(`${list(f.channel)} channel${f.channel.length > 1 ? 's' : ''}`);
  return parts.join(', ') || 'all regions';
}

function keyOf(row, groupBy) {
  switch (groupBy) {
    case 'month':
      return row.date.slice(0, 7);
    case 'quarter':
      return `${row.date.slice(0, 4)}-Q${Math.floor((Number(row.date.slice(5, 7)) - 1) / 3) + 1}`;
    case 'day':
      return row.date;
    case 'week': {
      const t = parse(row.date);
      const dow = (new Date(t).getUTCDay() + 6) % 7;
      return `w/c ${iso(t - dow * DAY)}`;
    }
    default:
      return row[groupBy];
  }
}

function totals(rows) {
  let revenue = 0;
  let units = 0;
  for (const r of rows) {
    revenue += r.revenue;
    units += r.units;
  }
  return { revenue: round(revenue), units, salesRecords: rows.length };
}

function group(rows, groupBy, metric) {
  const m = new Map();
  for (const r of rows) {
    const k = keyOf(r, groupBy);
    const g = m.get(k) ?? { [groupBy]: k, revenue: 0, units: 0, salesRecords: 0 };
    g.revenue += r.revenue;
    g.units += r.units;
    g.salesRecords += 1;
    m.set(k, g);
  }
  const out = [...m.values()].map((g) => ({ ...g, revenue: round(g.revenue) }));
  return TIME_GROUPS.includes(groupBy)
    ? out.sort((a, b) => (a[groupBy] < b[groupBy] ? -1 : 1))
    : out.sort((a, b) => b[metric] - a[metric] || (a[groupBy] < b[groupBy] ? -1 : 1));
}

function select(input, ctx) {
  const metric = input.metric ?? 'revenue';
  if (!METRICS.includes(metric))
    throw new Error(`metric ${JSON.stringify(metric)} is not in the data (available: ${METRICS.join(', ')})`);
  const period = periodOf(input.period, ctx);
  const filters = filtersOf(input);
  const keep = matches(filters);
  const all = salesRows();
  const rows = all.filter((r) => r.date >= period.from && r.date <= period.to && keep(r));
  const prev = period.previous;
  const prevRows = all.filter((r) => r.date >= prev.from && r.date <= prev.to && keep(r));
  return { metric, period, filters, rows, prevRows, scope: scopeOf(filters) };
}

const growth = (now, before) => (before > 0 ? round(((now - before) / before) * 100) : null);

/** sales.query — filter, aggregate, compare with the previous period, and say it in a sentence. */
export async function query(input, ctx) {
  const groupBy = input.groupBy ?? 'region';
  if (!GROUPS.includes(groupBy)) throw new Error(`cannot group by ${JSON.stringify(groupBy)}`);
  ctx.progress(`querying sales ${input.period?.from} → ${input.period?.to}`, 10);
  const { metric, period, filters, rows, prevRows, scope } = select(input, ctx);
  ctx.progress(`${rows.length} records matched`, 60);
  const total = totals(rows);
  const previousTotal = prevRows.length ? totals(prevRows) : null;
  const growthPct = previousTotal ? growth(total[metric], previousTotal[metric]) : null;
  let groups = group(rows, groupBy, metric).map((g) => ({
    ...g,
    sharePct: total[metric] ? round((g[metric] / total[metric]) * 100) : 0,
  }));
  const groupCount = groups.length;
  const order = input.order === 'lowest' ? 'lowest' : 'highest';
  if (order === 'lowest' && !TIME_GROUPS.includes(groupBy)) groups = groups.reverse();
  const limit = Number.isInteger(input.limit) && input.limit > 0 ? input.limit : undefined;
  if (limit !== undefined) groups = groups.slice(0, limit);
  const daily = group(rows, 'day', metric).map((d) => ({ date: d.day, revenue: d.revenue, units: d.units }));
  ctx.progress('aggregated', 100);

  const sentences = [];
  const word = metricWord(metric);
  if (rows.length === 0) sentences.push(`No sales were recorded for ${scope} in ${period.label}.`);
  else {
    let s = `${cap(scope)} ${word} for ${period.label} ${metric === 'units' ? 'were' : 'was'} ${compact(total[metric], metric)}`;
    if (growthPct !== null)
      s += `, ${growthPct >= 0 ? 'up' : 'down'} ${pct(growthPct)} on ${period.previous.label} (${compact(previousTotal[metric], metric)})`;
    else s += ` (no sales recorded in ${period.previous.label} to compare with)`;
    sentences.push(`${s}.`);
    if (groupCount > 1 && !TIME_GROUPS.includes(groupBy)) {
      const lead = groups[0];
      const tail = groups.at(-1);
      sentences.push(
        `${lead[groupBy]} ${order === 'lowest' ? 'was lowest' : 'led'} with ${pct(lead.sharePct)} (${compact(lead[metric], metric)})` +
          (groups.length > 1 && tail !== lead
            ? `; ${tail[groupBy]} ${order === 'lowest' ? 'came next' : 'was lowest'} with ${pct(tail.sharePct)}.`
            : '.'),
      );
    }
  }
  const narrative = sentences.join(' ');
  return {
    summary: narrative,
    narrative,
    period,
    scope,
    filters,
    metric,
    groupBy,
    order,
    ...(limit !== undefined ? { limit } : {}),
    total,
    previousTotal,
    growthPct,
    groupCount,
    rows: groups,
    daily,
    // kept for report.markdown and older recipes
    totalRevenue: total.revenue,
    totalUnits: total.units,
    previousRevenue: previousTotal ? previousTotal.revenue : null,
  };
}

const cap = (s) => s.charAt(0).toUpperCase() + s.slice(1);

/** sales.rank — rank products, regions or channels by a metric: "top 2 products by units". */
export async function rank(input, ctx) {
  const by = input.dimension ?? 'product';
  if (!['product', 'region', 'channel'].includes(by)) throw new Error(`cannot rank by ${JSON.stringify(by)}`);
  const q = await query({ ...input, groupBy: by }, ctx);
  const word = metricWord(q.metric);
  const noun = {
    product: ['product', 'products'],
    region: ['region', 'regions'],
    channel: ['channel', 'channels'],
  }[by];
  const shown = q.rows.length;
  const head =
    q.total.salesRecords === 0
      ? `No sales were recorded for ${q.scope} in ${q.period.label}.`
      : `${shown < q.groupCount ? `${q.order === 'lowest' ? 'Bottom' : 'Top'} ${shown} of ${q.groupCount} ${noun[1]}` : `All ${plural(q.groupCount, noun[0], noun[1])}, ${q.order === 'lowest' ? 'lowest' : 'highest'} first`} by ${word} for ${q.period.label} (${q.scope}): ` +
        q.rows
          .map((r, i) => `${i + 1}. ${r[by]} ${compact(r[q.metric], q.metric)} (${pct(r.sharePct)})`)
          .join(', ') +
        `. Total ${compact(q.total[q.metric], q.metric)}.`;
  return { ...q, summary: head, narrative: head };
}

/** sales.compare — two or more regions, products, channels or periods side by side. */
export async function compare(input, ctx) {
  const metric = input.metric ?? 'revenue';
  const periods = (Array.isArray(input.period) ? input.period : [input.period]).filter(Boolean);
  if (periods.length === 0) throw new Error('a comparison needs a period');
  const regions = asList(input.region, REGIONS, 'region');
  const products = asList(input.product, PRODUCTS, 'product');
  const channels = asList(input.channel, CHANNELS, 'channel');
  const items = [];
  let dimension;
  if (periods.length >= 2) {
    dimension = 'period';
    for (const p of periods)
      items.push({ label: null, period: p, region: regions, product: products, channel: channels });
  } else if (
    regions.length >= 2 ||
    (regions.length === 0 && input.dimension === 'region' && products.length < 2)
  ) {
    dimension = 'region';
    for (const r of regions.length ? regions : REGIONS)
      items.push({ label: r, period: periods[0], region: [r], product: products, channel: channels });
  } else if (products.length >= 2 || (products.length === 0 && input.dimension === 'product')) {
    dimension = 'product';
    for (const p of products.length ? products : PRODUCTS)
      items.push({ label: p, period: periods[0], region: regions, product: [p], channel: channels });
  } else if (channels.length >= 2 || (channels.length === 0 && input.dimension === 'channel')) {
    dimension = 'channel';
    for (const c of channels.length ? channels : CHANNELS)
      items.push({ label: c, period: periods[0], region: regions, product: products, channel: [c] });
  } else {
    // One period and at most one region or product: compare the period with the one before it.
    dimension = 'period';
    const p = periodOf(periods[0], ctx);
    items.push({ label: null, period: periods[0], region: regions, product: products, channel: channels });
    items.push({
      label: null,
      period: { ...p.previous, previous: undefined },
      region: regions,
      product: products,
      channel: channels,
    });
  }
  ctx.progress(`comparing ${items.length} ${dimension}s`, 20);
  const results = [];
  for (const it of items) {
    const { period, rows, scope } = select(
      { period: it.period, region: it.region, product: it.product, channel: it.channel, metric },
      ctx,
    );
    const t = totals(rows);
    results.push({
      label: it.label ?? period.label,
      period: { from: period.from, to: period.to, label: period.label },
      scope,
      ...t,
    });
  }
  ctx.progress('compared', 100);
  const word = metricWord(metric);
  const fig = (r) => compact(r[metric], metric);
  let narrative;
  const [a, b] = results;
  if (dimension === 'period') {
    const scope = results[0].scope;
    const d = growth(a[metric], b[metric]);
    narrative =
      results.length === 2
        ? `${cap(scope)} ${word} was ${fig(a)} in ${a.label} and ${fig(b)} in ${b.label}` +
          (d === null ? '.' : `: ${d >= 0 ? 'up' : 'down'} ${pct(d)} in ${a.label} against ${b.label}.`)
        : `${cap(scope)} ${word}: ${results.map((r) => `${r.label} ${fig(r)}`).join(', ')}.`;
    if (results.some((r) => r.period.label.includes('to date')))
      narrative += ' A period marked "to date" is not over yet.';
  } else {
    const sorted = [...results].sort((x, y) => y[metric] - x[metric]);
    const hi = sorted[0];
    const lo = sorted.at(-1);
    const period = a.period.label;
    // What every item shares, so the answer names its whole scope.
    const shared = [];
    if (dimension !== 'product' && products.length) shared.push(list(products));
    if (dimension !== 'region' && regions.length) shared.push(`in ${list(regions)}`);
    if (dimension !== 'channel' && channels.length)
      shared.push(`${list(channels)} channel${channels.length > 1 ? 's' : ''}`);
    const extra = shared.length ? ` (${shared.join(', ')})` : '';
    narrative = `${cap(word)} for ${period}${extra}: ${results.map((r) => `${r.label} ${fig(r)}`).join(', ')}.`;
    if (hi[metric] === lo[metric]) narrative += ' They are level.';
    else {
      const d = growth(hi[metric], lo[metric]);
      narrative += ` ${hi.label} ${results.length === 2 ? 'was ahead' : 'was highest'}, ${d === null ? '' : `${pct(d)} above ${lo.label}`} (${compact(hi[metric] - lo[metric], metric)} more).`;
    }
  }
  const total = results.reduce((s, r) => s + r[metric], 0);
  const rows = results.map((r) => ({
    [dimension]: r.label,
    revenue: r.revenue,
    units: r.units,
    sharePct: total ? round((r[metric] / total) * 100) : 0,
  }));
  return { summary: narrative, narrative, dimension, metric, items: results, rows };
}

/** sales.insights — growth, leaders and unusual days from a sales.query result. */
export async function insights(input, ctx) {
  const data = input.data ?? {};
  ctx.progress('looking for unusual days', 50);
  const anomalies = unusualDays(Array.isArray(data.daily) ? data.daily : [], data.metric ?? 'revenue');
  ctx.progress('done', 100);
  const parts = [];
  if (anomalies.days.length)
    parts.push(
      `${plural(anomalies.days.length, 'unusual day')}: ${anomalies.days.map((d) => `${d.date} (${compact(d.value, anomalies.metric)}, ${d.kind})`).join(', ')}; the average day was ${compact(anomalies.mean, anomalies.metric)}.`,
    );
  return {
    summary: parts.join(' '),
    ...(parts.length ? { narrative: parts.join(' ') } : {}),
    growthPct: data.growthPct ?? null,
    anomalies: anomalies.days,
    averageDay: anomalies.mean,
  };
}

function unusualDays(daily, metric, threshold = 3) {
  const values = daily.map((d) => d[metric] ?? 0);
  const n = Math.max(1, values.length);
  const mean = values.reduce((s, v) => s + v, 0) / n;
  const sd = Math.sqrt(values.reduce((s, v) => s + (v - mean) ** 2, 0) / n);
  const days = daily
    .map((d) => ({ date: d.date, value: d[metric] ?? 0, z: sd ? round(((d[metric] ?? 0) - mean) / sd) : 0 }))
    .filter((d) => Math.abs(d.z) >= threshold)
    .sort((a, b) => Math.abs(b.z) - Math.abs(a.z))
    .slice(0, 5)
    .map((d) => ({ ...d, kind: d.z > 0 ? 'spike' : 'drop' }));
  return { days, mean: round(mean), sd: round(sd), metric };
}

/** sales.anomalies — spikes and drops: days more than 3 standard deviations from the period's mean. */
export async function anomalies(input, ctx) {
  const q = await query({ ...input, groupBy: 'day' }, ctx);
  const metric = q.metric;
  const found = unusualDays(q.daily, metric);
  const word = metricWord(metric);
  let narrative;
  if (q.daily.length === 0) narrative = `No sales were recorded for ${q.scope} in ${q.period.label}.`;
  else if (found.days.length === 0)
    narrative = `No unusual days in ${q.period.label} (${q.scope}): every day's ${word} stayed within 3 standard deviations of the average day (${compact(found.mean, metric)}).`;
  else
    narrative =
      `${plural(found.days.length, 'unusual day')} in ${q.period.label} (${q.scope}), against an average day of ${compact(found.mean, metric)}: ` +
      found.days.map((d) => `${d.date} ${compact(d.value, metric)} (${d.kind})`).join(', ') +
      '.';
  return {
    summary: narrative,
    narrative,
    period: q.period,
    scope: q.scope,
    metric,
    averageDay: found.mean,
    rows: found.days.map((d) => ({ date: d.date, [metric]: d.value, kind: d.kind })),
  };
}

/** sales.trend — a time series (month, week, day or quarter) with first→last change and extremes. */
export async function trend(input, ctx) {
  // No grain asked: days for a month or less, weeks up to half a year, months beyond.
  const span = input.period ? (parse(input.period.to) - parse(input.period.from)) / DAY + 1 : 366;
  const named =
    { weekly: 'week', monthly: 'month', daily: 'day', quarterly: 'quarter' }[input.grain] ?? input.grain;
  const grain = named ?? (span <= 31 ? 'day' : span <= 184 ? 'week' : 'month');
  if (!TIME_GROUPS.includes(grain)) throw new Error(`cannot chart by ${JSON.stringify(grain)}`);
  const q = await query({ ...input, groupBy: grain, limit: undefined, order: undefined }, ctx);
  const metric = q.metric;
  const all = q.rows.map((r) => ({
    [grain]: r[grain],
    revenue: r.revenue,
    units: r.units,
    ...(complete(r[grain], grain, q.period) ? {} : { partial: true }),
  }));
  // Partial buckets (a week cut by the period, the month still running) are shown but never compared.
  const rows = all.filter((r) => !r.partial);
  const partial = all.filter((r) => r.partial);
  let narrative;
  if (all.length === 0) narrative = `No sales were recorded for ${q.scope} in ${q.period.label}.`;
  else if (rows.length === 1)
    narrative = `${cap(q.scope)} ${metricWord(metric)} for ${q.period.label}: ${compact(rows[0][metric], metric)} in ${rows[0][grain]}, the only whole ${grain}.`;
  else if (rows.length === 0) narrative = '';
  else {
    const first = rows[0];
    const last = rows.at(-1);
    const hi = rows.reduce((x, y) => (y[metric] > x[metric] ? y : x));
    const lo = rows.reduce((x, y) => (y[metric] < x[metric] ? y : x));
    const d = growth(last[metric], first[metric]);
    narrative =
      `${cap(q.scope)} ${metricWord(metric)} by ${grain} for ${q.period.label}: from ${compact(first[metric], metric)} (${first[grain]}) to ${compact(last[metric], metric)} (${last[grain]})` +
      (d === null ? '' : `, ${d >= 0 ? 'up' : 'down'} ${pct(d)}`) +
      `; highest ${hi[grain]} (${compact(hi[metric], metric)}), lowest ${lo[grain]} (${compact(lo[metric], metric)}).` +
      '';
  }
  if (rows.length === 0 && all.length > 0)
    narrative = `${cap(q.scope)} ${metricWord(metric)} for ${q.period.label} was ${compact(q.total[metric], metric)}; no whole ${grain} to compare yet.`;
  if (partial.length)
    narrative += ` Not compared, because only partly in the period: ${partial.map((r) => `${r[grain]} (${compact(r[metric], metric)} so far)`).join(', ')}.`;
  return { ...q, summary: narrative, narrative, grain, rows: all };
}

/** Whether a time bucket lies wholly inside the period. */
function complete(key, grain, period) {
  let from;
  let to;
  if (grain === 'day') return true;
  if (grain === 'week') {
    from = key.slice(4);
    to = iso(parse(from) + 6 * DAY);
  } else if (grain === 'month') {
    from = `${key}-01`;
    const [y, m] = key.split('-').map(Number);
    to = iso(Date.UTC(y, m, 0));
  } else {
    const y = Number(key.slice(0, 4));
    const q = Number(key.slice(-1));
    from = iso(Date.UTC(y, (q - 1) * 3, 1));
    to = iso(Date.UTC(y, q * 3, 0));
  }
  return from >= period.from && to <= period.to;
}
