/**
 * The labelled request set (test/understanding/requests.txt) and an independent answer checker: every
 * figure an answer states is recomputed here from the demo's raw data rows, with calendar code written
 * for this check — not through the project's tools, periods module or entity rules.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { salesRows } from '../../examples/quickstart/tools/handlers/dataset.js';

/** One labelled request. */
export interface GoldRequest {
  line: number;
  kind: 'c' | 'v' | 'o' | 'd';
  intent: string;
  slots: Record<string, string[]>;
  text: string;
}

const FILE = fileURLToPath(new URL('../../test/understanding/requests.txt', import.meta.url));
/** The held-out set: written after the development set, used only for reporting, never for tuning. */
export const HELDOUT_FILE = fileURLToPath(new URL('../../test/understanding/heldout.txt', import.meta.url));

/** Reads the labelled set. */
export function loadGold(path = FILE): GoldRequest[] {
  const out: GoldRequest[] = [];
  readFileSync(path, 'utf8')
    .split('\n')
    .forEach((raw, i) => {
      if (raw.trim() === '' || raw.startsWith('#')) return;
      const [kind = '', intent = '', slots = '', ...text] = raw.split('|').map((s) => s.trim());
      const parsed: Record<string, string[]> = {};
      for (const pair of slots.split(/\s+/).filter(Boolean)) {
        const [k = '', v = ''] = pair.split('=');
        parsed[k] = v.split(',').map((x) => x.replace(/_/g, ' '));
      }
      out.push({
        line: i + 1,
        kind: kind as GoldRequest['kind'],
        intent,
        slots: parsed,
        text: text.join('|'),
      });
    });
  return out;
}

// ---------- independent calendar code ----------
const DAY = 86_400_000;
const d2s = (t: number): string => new Date(t).toISOString().slice(0, 10);
const s2d = (s: string): number => Date.parse(`${s}T00:00:00Z`);

/** A gold period: its uncut range and the calendar unit it names. */
export interface GoldPeriod {
  from: string;
  to: string;
  unit: 'day' | 'week' | 'month' | 'quarter' | 'half' | 'year' | 'span';
}

/** Parses a gold period token (2026-Q3, 2026-H1, 2026-11, 2026, 2026-11-05, W:2026-11-23, A..B). */
export function goldPeriod(token: string): GoldPeriod {
  let m: RegExpExecArray | null;
  if ((m = /^(\d{4})-Q([1-4])$/.exec(token))) {
    const y = Number(m[1]);
    const q = Number(m[2]);
    return { from: d2s(Date.UTC(y, (q - 1) * 3, 1)), to: d2s(Date.UTC(y, q * 3, 0)), unit: 'quarter' };
  }
  if ((m = /^(\d{4})-H([12])$/.exec(token))) {
    const y = Number(m[1]);
    const h = Number(m[2]);
    return { from: d2s(Date.UTC(y, (h - 1) * 6, 1)), to: d2s(Date.UTC(y, h * 6, 0)), unit: 'half' };
  }
  if ((m = /^(\d{4})-(\d{2})$/.exec(token))) {
    const y = Number(m[1]);
    const mo = Number(m[2]) - 1;
    return { from: d2s(Date.UTC(y, mo, 1)), to: d2s(Date.UTC(y, mo + 1, 0)), unit: 'month' };
  }
  if ((m = /^(\d{4})$/.exec(token))) return { from: `${m[1]}-01-01`, to: `${m[1]}-12-31`, unit: 'year' };
  if ((m = /^W:(\d{4}-\d{2}-\d{2})$/.exec(token)))
    return { from: m[1]!, to: d2s(s2d(m[1]!) + 6 * DAY), unit: 'week' };
  if ((m = /^(\d{4}-\d{2}-\d{2})\.\.(\d{4}-\d{2}-\d{2})$/.exec(token)))
    return { from: m[1]!, to: m[2]!, unit: 'span' };
  if (/^\d{4}-\d{2}-\d{2}$/.test(token)) return { from: token, to: token, unit: 'day' };
  throw new Error(`bad gold period ${token}`);
}

/** The days actually reported (cut at today) and the days growth is measured against. */
export function goldWindows(p: GoldPeriod, today: string): { cur: [string, string]; prev: [string, string] } {
  const to = p.to > today ? today : p.to;
  const cut = to !== p.to;
  const f = s2d(p.from);
  if (p.unit === 'span') {
    const len = s2d(to) - f + DAY;
    return { cur: [p.from, to], prev: [d2s(f - len), d2s(f - DAY)] };
  }
  const y = new Date(f).getUTCFullYear();
  const mo = new Date(f).getUTCMonth();
  const prevFrom =
    p.unit === 'day'
      ? f - DAY
      : p.unit === 'week'
        ? f - 7 * DAY
        : Date.UTC(y, mo - { month: 1, quarter: 3, half: 6, year: 12 }[p.unit], 1);
  const prevEnd = f - DAY;
  if (!cut) return { cur: [p.from, to], prev: [d2s(prevFrom), d2s(prevEnd)] };
  const elapsed = s2d(to) - f;
  return { cur: [p.from, to], prev: [d2s(prevFrom), d2s(Math.min(prevFrom + elapsed, prevEnd))] };
}

// ---------- independent aggregation ----------
const REGION_NAMES = ['North America', 'EMEA', 'APAC', 'LATAM'];
const PRODUCT_NAMES = ['Atlas Laptop', 'Nimbus Phone', 'Orbit Tablet', 'Pulse Watch', 'Echo Buds'];
const CHANNEL_NAMES = ['online', 'retail', 'partner'];

interface Filter {
  regions: string[];
  exclude: string[];
  products: string[];
  channels: string[];
}
type Row = ReturnType<typeof salesRows>[number];

function pick(f: Filter, from: string, to: string): Row[] {
  return salesRows().filter(
    (r) =>
      r.date >= from &&
      r.date <= to &&
      (f.regions.length === 0 || f.regions.includes(r.region)) &&
      !f.exclude.includes(r.region) &&
      (f.products.length === 0 || f.products.includes(r.product)) &&
      (f.channels.length === 0 || f.channels.includes(r.channel)),
  );
}
const sum = (rows: Row[], m: 'revenue' | 'units'): number => rows.reduce((s, r) => s + r[m], 0);
function bucket(r: Row, by: string): string {
  if (by === 'month') return r.date.slice(0, 7);
  if (by === 'day') return r.date;
  if (by === 'quarter') return `${r.date.slice(0, 4)}Q${Math.ceil(Number(r.date.slice(5, 7)) / 3)}`;
  if (by === 'week') {
    const t = s2d(r.date);
    return d2s(t - ((new Date(t).getUTCDay() + 6) % 7) * DAY);
  }
  return (r as unknown as Record<string, string>)[by] ?? '';
}
function groups(rows: Row[], by: string): Map<string, Row[]> {
  const m = new Map<string, Row[]>();
  for (const r of rows) {
    const k = bucket(r, by);
    const list = m.get(k) ?? [];
    list.push(r);
    m.set(k, list);
  }
  return m;
}
const pctChange = (a: number, b: number): number | undefined => (b > 0 ? ((a - b) / b) * 100 : undefined);

/** The facts an answer to a gold request may state, and the ones it must state (any of them). */
export interface Facts {
  all: number[];
  key: number[];
}

/**
 * Recomputes, from the raw rows, every figure a correct answer could state for a gold request.
 *
 * @param g - the request
 * @param today - ISO date of the clock
 */
export function factsFor(g: GoldRequest, today: string): Facts {
  const s = g.slots;
  const f: Filter = {
    regions: s['r'] ?? [],
    exclude: s['x'] ?? [],
    products: s['pr'] ?? [],
    channels: s['ch'] ?? [],
  };
  const metric = (s['m']?.[0] ?? 'revenue') as 'revenue' | 'units';
  const periods = (s['p'] ?? ['2026']).map(goldPeriod);
  const all: number[] = [];
  const key: number[] = [];
  const addRows = (rows: Row[]): void => {
    all.push(sum(rows, 'revenue'), sum(rows, 'units'), rows.length);
  };
  const shares = (parts: number[], total: number): void => {
    if (total > 0) for (const p of parts) all.push((p / total) * 100);
  };
  const first = periods[0]!;
  const w = goldWindows(first, today);
  const cur = pick(f, ...w.cur);
  const prev = pick(f, ...w.prev);
  switch (g.intent) {
    case 'sales.report': {
      addRows(cur);
      addRows(prev);
      key.push(sum(cur, metric));
      const g1 = pctChange(sum(cur, metric), sum(prev, metric));
      if (g1 !== undefined) all.push(g1);
      const by = s['d']?.[0] ?? 'region';
      const parts = [...groups(cur, by).values()];
      for (const p of parts) addRows(p);
      shares(
        parts.map((p) => sum(p, metric)),
        sum(cur, metric),
      );
      shares(
        parts.map((p) => sum(p, metric === 'revenue' ? 'units' : 'revenue')),
        sum(cur, metric === 'revenue' ? 'units' : 'revenue'),
      );
      anomalyFacts(cur, metric, all);
      // Two or more named regions or products: how they compare is true as well.
      const named =
        f.regions.length >= 2
          ? f.regions.map((r) => pick({ ...f, regions: [r] }, ...w.cur))
          : f.products.length >= 2
            ? f.products.map((p) => pick({ ...f, products: [p] }, ...w.cur))
            : [];
      const values = named.map((rows) => sum(rows, metric));
      // …and each named one's own figure answers "EMEA and LATAM revenue" as well as their total.
      key.push(...values);
      for (const rows of named) addRows(rows);
      for (const a of values)
        for (const b of values) {
          const c = pctChange(a, b);
          if (c !== undefined && a !== b) all.push(c, Math.abs(a - b));
        }
      break;
    }
    case 'sales.trend': {
      // Without a named grain, any grain's figures are true ones.
      const named = s['g']?.[0];
      const grains = named ? [named] : ['day', 'week', 'month', 'quarter'];
      addRows(cur);
      addRows(prev);
      for (const grain of grains) trendFacts(cur, grain, w.cur, metric, all, key);
      const gp = pctChange(sum(cur, metric), sum(prev, metric));
      if (gp !== undefined) all.push(gp);
      if (key.length === 0) key.push(sum(cur, metric));
      break;
    }
    case 'sales.top_products': {
      const by = s['d']?.[0] ?? 'product';
      addRows(cur);
      addRows(prev);
      const gp = pctChange(sum(cur, metric), sum(prev, metric));
      if (gp !== undefined) all.push(gp);
      const parts = [...groups(cur, by).values()].sort((a, b) => sum(b, metric) - sum(a, metric));
      for (const p of parts) addRows(p);
      shares(
        parts.map((p) => sum(p, metric)),
        sum(cur, metric),
      );
      const lowest = s['o']?.[0] === 'lowest';
      const top = lowest ? parts.at(-1) : parts[0];
      if (top) key.push(sum(top, metric));
      break;
    }
    case 'sales.compare': {
      const items: Row[][] = [];
      if (periods.length >= 2) for (const p of periods) items.push(pick(f, ...goldWindows(p, today).cur));
      else if (f.regions.length >= 2)
        for (const r of f.regions) items.push(pick({ ...f, regions: [r] }, ...w.cur));
      else if (f.products.length >= 2)
        for (const p of f.products) items.push(pick({ ...f, products: [p] }, ...w.cur));
      else if (f.channels.length >= 2)
        for (const c of f.channels) items.push(pick({ ...f, channels: [c] }, ...w.cur));
      else items.push(cur, prev);
      const values = items.map((rows) => sum(rows, metric));
      for (const rows of items) addRows(rows);
      key.push(...values);
      const total = values.reduce((a, b) => a + b, 0);
      shares(values, total);
      for (const a of values)
        for (const b of values) {
          const c = pctChange(a, b);
          if (c !== undefined && a !== b) all.push(c, Math.abs(a - b));
        }
      break;
    }
    case 'sales.anomalies': {
      const daily = [...groups(cur, 'day').values()];
      for (const d of daily) addRows(d);
      const mean = daily.reduce((a, d) => a + sum(d, 'revenue'), 0) / Math.max(1, daily.length);
      all.push(mean);
      key.push(mean);
      break;
    }
    default:
      break;
  }
  return { all: all.filter((x) => Number.isFinite(x)), key };
}

function trendFacts(
  cur: Row[],
  grain: string,
  window: [string, string],
  metric: 'revenue' | 'units',
  all: number[],
  key: number[],
): void {
  const buckets = [...groups(cur, grain).entries()].sort(([a], [b]) => (a < b ? -1 : 1));
  for (const [, rows] of buckets) all.push(sum(rows, 'revenue'), sum(rows, 'units'), rows.length);
  const whole = buckets.filter(([k]) => bucketInside(k, grain, window));
  const first = whole[0];
  const last = whole.at(-1);
  if (first && last) {
    const c = pctChange(sum(last[1], metric), sum(first[1], metric));
    if (c !== undefined) all.push(c);
    key.push(sum(first[1], metric), sum(last[1], metric));
  }
}

function anomalyFacts(rows: Row[], metric: 'revenue' | 'units', out: number[]): void {
  const daily = [...groups(rows, 'day').values()].map((d) => sum(d, metric));
  const mean = daily.reduce((a, b) => a + b, 0) / Math.max(1, daily.length);
  out.push(mean, ...daily);
}

function bucketInside(k: string, grain: string, [from, to]: [string, string]): boolean {
  if (grain === 'day') return true;
  let a: string;
  let b: string;
  if (grain === 'week') {
    a = k;
    b = d2s(s2d(k) + 6 * DAY);
  } else if (grain === 'month') {
    a = `${k}-01`;
    b = d2s(Date.UTC(Number(k.slice(0, 4)), Number(k.slice(5, 7)), 0));
  } else {
    const y = Number(k.slice(0, 4));
    const q = Number(k.slice(-1));
    a = d2s(Date.UTC(y, (q - 1) * 3, 1));
    b = d2s(Date.UTC(y, q * 3, 0));
  }
  return a >= from && b <= to;
}

/** A figure read from an answer, with the tolerance its printed precision implies. */
export interface StatedFigure {
  text: string;
  value: number;
  tolerance: number;
}

/**
 * Reads the figures an answer states: amounts (`12.84 M`, `845.2 k`, `1,618,341`), percentages and
 * decimals. Dates, years, quarter and week labels, ranks (`1.`) and small counts are not figures.
 */
export function statedFigures(answer: string): StatedFigure[] {
  const text = answer
    .replace(/\/\S+/g, ' ') // file paths
    .replace(/\b\d{4}-\d{2}-\d{2}\b/g, ' ')
    .replace(/\b\d{4}-\d{2}\b/g, ' ')
    .replace(/\b\d{4}-?Q[1-4]\b/gi, ' ')
    .replace(/\b[QH][1-4]\b/g, ' ')
    .replace(/\b\d{1,2}\s+(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]*(?:\s+\d{4})?\b/g, ' ')
    .replace(/\b(?:19|20)\d{2}\b/g, ' ')
    .replace(/(^|\s)\d{1,2}\.\s/g, ' ') // "1. Atlas Laptop"
    .replace(/\bw\/c\b/g, ' ')
    .replace(/\b\d+\s+(?:days?|weeks?|months?|attachments?|products|regions|channels)\b/g, ' '); // counts
  const out: StatedFigure[] = [];
  const re = /(-?\d{1,3}(?:,\d{3})+(?:\.\d+)?|-?\d+(?:\.\d+)?)(\s?%|\s?M\b|\s?k\b)?/g;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    const raw = m[1] ?? '';
    const unit = (m[2] ?? '').trim();
    const n = Number(raw.replace(/,/g, ''));
    const decimals = raw.includes('.') ? (raw.split('.')[1]?.length ?? 0) : 0;
    const step = 10 ** -decimals;
    if (unit === '' && decimals === 0 && Math.abs(n) < 100) continue; // counts and ordinals
    const scale = unit === 'M' ? 1e6 : unit === 'k' ? 1e3 : 1;
    out.push({ text: m[0], value: n * scale, tolerance: (step / 2) * scale * 1.0001 + 1e-9 });
  }
  return out;
}

/** Whether a stated figure matches a fact (as an amount, or as a percentage of a share/growth). */
export function matches(fig: StatedFigure, facts: readonly number[]): boolean {
  return facts.some((f) => Math.abs(Math.abs(f) - Math.abs(fig.value)) <= fig.tolerance + 0.011);
}

export { REGION_NAMES, PRODUCT_NAMES, CHANNEL_NAMES };
