/**
 * Slot scoring shared by bench/understanding.ts and the labelled-set test: predicted and gold slots as
 * `name=value` pairs, normalised the same way.
 */
import type { Intent, Json } from 'dream-agent';
import { goldPeriod, goldWindows, type GoldRequest } from './gold.js';
import { BENCH_NOW } from './run-agent.js';

const TODAY = new Date(BENCH_NOW).toISOString().slice(0, 10);
const GRAIN_UNIT: Readonly<Record<string, string>> = {
  daily: 'day',
  weekly: 'week',
  monthly: 'month',
  quarterly: 'quarter',
};

/** Slot pairs of an intent, normalised like the gold labels; defaults the user did not ask for are left out. */
export function predictedPairs(intent: Intent | undefined, gold?: GoldRequest): Set<string> {
  const out = new Set<string>();
  if (!intent) return out;
  const add = (k: string, v: Json | undefined): void => {
    if (v === undefined || v === null) return;
    for (const x of Array.isArray(v) ? v : [v]) {
      if (x !== null && typeof x === 'object' && !Array.isArray(x)) {
        out.add(`${k}=${String(x['from'])}..${String(x['to'])}`);
      } else out.add(`${k}=${String(x)}`);
    }
  };
  const s = intent.slots;
  const defaultPeriod = ['sales.trend', 'sales.top_products', 'sales.anomalies'].includes(intent.name);
  const p = s['period'];
  const isDefaultPeriod =
    defaultPeriod &&
    p !== null &&
    typeof p === 'object' &&
    !Array.isArray(p) &&
    p['from'] === '2026-01-01' &&
    p['to'] === TODAY;
  if (!isDefaultPeriod || gold?.slots['p'] !== undefined) add('p', p);
  add('r', s['region']);
  add('x', s['exclude']);
  add('pr', s['product']);
  add('ch', s['channel']);
  if (s['metric'] !== 'revenue') add('m', s['metric']);
  add('n', s['limit']);
  if (s['order'] === 'lowest') add('o', s['order']);
  const defaultDimension =
    intent.name === 'sales.top_products' ? 'product' : intent.name === 'sales.report' ? 'region' : '';
  if (s['dimension'] !== defaultDimension || gold?.slots['d'] !== undefined) add('d', s['dimension']);
  // The grain gazetteer's values are adverbs (`weekly`); the gold labels name the unit (`week`).
  const grain = s['grain'];
  add('g', typeof grain === 'string' ? (GRAIN_UNIT[grain] ?? grain) : grain);
  add('to', s['recipient']);
  if (s['delivery'] === 'email') add('dl', 'email');
  return out;
}

export function goldPairs(g: GoldRequest): Set<string> {
  const out = new Set<string>();
  for (const [k, values] of Object.entries(g.slots)) {
    for (const v of values) {
      if (k === 'p') {
        const p = goldPeriod(v);
        const w = goldWindows(p, TODAY);
        if (p.from > TODAY) continue; // a future period is declined, not filled
        out.add(`p=${w.cur[0]}..${w.cur[1]}`);
      } else if (k === 'm' && (v === 'margin' || v === 'orders')) out.add(`m=${v}`);
      else out.add(`${k}=${v}`);
    }
  }
  return out;
}
