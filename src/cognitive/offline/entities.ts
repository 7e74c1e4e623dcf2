/**
 * Rule-based entity extraction for the offline Cognitive layer: dates and periods resolved against the
 * session clock, numbers, money, percentages, e-mail addresses and gazetteer phrases.
 *
 * Calendar arithmetic is done in UTC on whole days; periods are inclusive `{ from, to }` ISO dates.
 *
 * @packageDocumentation
 */
import type { Entity } from '../../model/intent.js';
import type { Gazetteer } from './intents.js';
import { fold } from './tokenize.js';

/** An inclusive range of calendar days, as ISO dates (`YYYY-MM-DD`). */
export interface PeriodValue {
  [key: string]: string;
  /** The first day of the period (`2024-01-01` for "Q1 2024"). */
  from: string;
  /** The last day of the period, inclusive (`2024-03-31` for "Q1 2024"). */
  to: string;
}

/** Money: an amount and an ISO 4217 currency code (`USD` when only `$` is given). */
export interface MoneyValue {
  [key: string]: string | number;
  /** The amount in the currency's units (`1500` for "$1.5k"). */
  amount: number;
  /** The ISO 4217 code (`EUR`, `USD`…). */
  currency: string;
}

/** Options of {@link extractEntities}. */
export interface EntityOptions {
  /** "Now", epoch milliseconds: what `last quarter` or `yesterday` are relative to. */
  now: number;
  /** Named gazetteers (e.g. `region`): each match becomes an entity of that type, valued by its key. */
  gazetteers?: Readonly<Record<string, Gazetteer>>;
}

interface Day {
  y: number;
  m: number; // 0-based
  d: number;
}

const DAY_MS = 86_400_000;

function dayOf(ms: number): Day {
  const t = new Date(ms);
  return { y: t.getUTCFullYear(), m: t.getUTCMonth(), d: t.getUTCDate() };
}
/** Normalises overflowing months/days (month 12 → January next year, day 0 → last of previous month). */
function mk(y: number, m: number, d: number): Day {
  return dayOf(Date.UTC(y, m, d));
}
function iso(day: Day): string {
  const p = (n: number, w: number): string => String(n).padStart(w, '0');
  return `${p(day.y, 4)}-${p(day.m + 1, 2)}-${p(day.d, 2)}`;
}
function addDays(day: Day, n: number): Day {
  return dayOf(Date.UTC(day.y, day.m, day.d) + n * DAY_MS);
}
/** Adds months, clamping the day (31 Mar − 1 month → 28/29 Feb). */
function addMonths(day: Day, n: number): Day {
  const first = mk(day.y, day.m + n, 1);
  const last = mk(first.y, first.m + 1, 0).d;
  return { y: first.y, m: first.m, d: Math.min(day.d, last) };
}
function range(from: Day, to: Day): PeriodValue {
  const a = iso(from);
  const b = iso(to);
  return a <= b ? { from: a, to: b } : { from: b, to: a };
}
function monthRange(y: number, m: number): PeriodValue {
  return range(mk(y, m, 1), mk(y, m + 1, 0));
}
function quarterRange(y: number, q: number): PeriodValue {
  return range(mk(y, (q - 1) * 3, 1), mk(y, q * 3, 0));
}
function validDate(y: number, m: number, d: number): Day | undefined {
  if (m < 0 || m > 11 || d < 1 || d > 31) return undefined;
  const day = mk(y, m, d);
  return day.m === m && day.d === d ? day : undefined;
}

// prettier-ignore
const MONTHS: Readonly<Record<string, number>> = {
  jan: 0, january: 0, feb: 1, february: 1, mar: 2, march: 2, apr: 3, april: 3, may: 4, jun: 5, june: 5,
  jul: 6, july: 6, aug: 7, august: 7, sep: 8, sept: 8, september: 8, oct: 9, october: 9, nov: 10,
  november: 10, dec: 11, december: 11,
};
const MONTH_RE =
  'jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sept?(?:ember)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?';

// prettier-ignore
const NUMBER_WORDS: Readonly<Record<string, number>> = {
  two: 2, three: 3, four: 4, five: 5, six: 6, seven: 7, eight: 8, nine: 9, ten: 10, eleven: 11, twelve: 12,
  thirteen: 13, fourteen: 14, fifteen: 15, sixteen: 16, seventeen: 17, eighteen: 18, nineteen: 19, twenty: 20,
  thirty: 30, forty: 40, fifty: 50, sixty: 60, seventy: 70, eighty: 80, ninety: 90, hundred: 100,
};
const NUMBER_WORD_RE = Object.keys(NUMBER_WORDS).join('|');
// prettier-ignore
const ORDINALS: Readonly<Record<string, number>> = {
  first: 1, '1st': 1, second: 2, '2nd': 2, third: 3, '3rd': 3, fourth: 4, '4th': 4,
};

// prettier-ignore
const MULTIPLIERS: Readonly<Record<string, number>> = {
  k: 1e3, thousand: 1e3, m: 1e6, mm: 1e6, million: 1e6, b: 1e9, bn: 1e9, billion: 1e9,
};
const MULT_RE = 'k|thousand|mm|million|bn|billion|m|b';
const CURRENCY_SYMBOLS: Readonly<Record<string, string>> = { $: 'USD', '€': 'EUR', '£': 'GBP', '¥': 'JPY' };
// prettier-ignore
const CURRENCY_WORDS: Readonly<Record<string, string>> = {
  usd: 'USD', dollar: 'USD', dollars: 'USD', bucks: 'USD', eur: 'EUR', euro: 'EUR', euros: 'EUR', gbp: 'GBP',
  pound: 'GBP', pounds: 'GBP', jpy: 'JPY', yen: 'JPY', chf: 'CHF', francs: 'CHF', cad: 'CAD', aud: 'AUD',
  inr: 'INR', rupees: 'INR', cny: 'CNY', yuan: 'CNY',
};
const CURRENCY_WORD_RE = Object.keys(CURRENCY_WORDS).join('|');
const NUM_RE = '\\d{1,3}(?:,\\d{3})+(?:\\.\\d+)?|\\d+(?:\\.\\d+)?';

function parseNumber(digits: string, multiplier?: string): number {
  const n = Number(digits.replace(/,/g, ''));
  return multiplier === undefined ? n : n * (MULTIPLIERS[multiplier.toLowerCase()] ?? 1);
}
function numberOf(token: string): number {
  return NUMBER_WORDS[token.toLowerCase()] ?? Number(token);
}

/** Candidate entity with a priority used to break ties between overlapping spans of equal length. */
interface Candidate extends Entity {
  start: number;
  end: number;
  priority: number;
}

type Rule = (m: RegExpExecArray, today: Day) => { type: string; value: Entity['value'] } | undefined;

/** Ordered by priority (lower wins ties). Longer spans always win over shorter overlapping ones. */
function rules(): [RegExp, number, Rule][] {
  const year = (s: string | undefined, fallback: number): number => (s === undefined ? fallback : Number(s));
  return [
    [
      /\b[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b/g,
      0,
      (m) => ({ type: 'email', value: m[0].toLowerCase() }),
    ],
    // from 2025-01-01 to 2025-03-31
    [
      /\b(?:from|between)\s+(\d{4})-(\d{2})-(\d{2})\s+(?:to|and|until|till|through|-)\s+(\d{4})-(\d{2})-(\d{2})\b/gi,
      1,
      (m) => {
        const a = validDate(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
        const b = validDate(Number(m[4]), Number(m[5]) - 1, Number(m[6]));
        return a && b ? { type: 'period', value: range(a, b) } : undefined;
      },
    ],
    // the past 30 days, last 2 quarters, next three weeks
    [
      new RegExp(
        `\\b(?:(?:in|over|during|for)\\s+)?(?:the\\s+)?(past|last|previous|prior|next|coming)\\s+(\\d+|${NUMBER_WORD_RE})\\s+(days?|weeks?|months?|quarters?|years?)\\b`,
        'gi',
      ),
      2,
      (m, today) => {
        const n = numberOf(m[2] ?? '');
        if (!(n >= 1 && n <= 10_000)) return undefined;
        const unit = (m[3] ?? '').toLowerCase().replace(/s$/, '');
        const forward = /next|coming/i.test(m[1] ?? '');
        const months = unit === 'month' ? n : unit === 'quarter' ? 3 * n : unit === 'year' ? 12 * n : 0;
        const days = unit === 'day' ? n : unit === 'week' ? 7 * n : 0;
        if (forward) {
          const end = months > 0 ? addDays(addMonths(today, months), -1) : addDays(today, days - 1);
          return { type: 'period', value: range(today, end) };
        }
        const start = months > 0 ? addDays(addMonths(today, -months), 1) : addDays(today, 1 - days);
        return { type: 'period', value: range(start, today) };
      },
    ],
    // last week, this quarter, next year
    [
      /\b(last|previous|prior|this|current|next|coming)\s+(week|month|quarter|year)\b/gi,
      3,
      (m, today) => {
        const rel = (m[1] ?? '').toLowerCase();
        const shift = rel === 'this' || rel === 'current' ? 0 : rel === 'next' || rel === 'coming' ? 1 : -1;
        switch ((m[2] ?? '').toLowerCase()) {
          case 'week': {
            const dow = (new Date(Date.UTC(today.y, today.m, today.d)).getUTCDay() + 6) % 7; // Monday = 0
            const monday = addDays(today, -dow + 7 * shift);
            return { type: 'period', value: range(monday, addDays(monday, 6)) };
          }
          case 'month': {
            const first = mk(today.y, today.m + shift, 1);
            return { type: 'period', value: monthRange(first.y, first.m) };
          }
          case 'quarter': {
            const q0 = Math.floor(today.m / 3) + shift; // may be −1 or 4: mk normalises
            const first = mk(today.y, q0 * 3, 1);
            return { type: 'period', value: quarterRange(first.y, Math.floor(first.m / 3) + 1) };
          }
          default:
            return { type: 'period', value: range(mk(today.y + shift, 0, 1), mk(today.y + shift, 11, 31)) };
        }
      },
    ],
    // year to date, month-to-date, QTD
    [
      /\b(?:(year|month|quarter)[\s-]+to[\s-]+date|(ytd|mtd|qtd))\b/gi,
      3,
      (m, today) => {
        const unit = (m[1] ?? m[2] ?? '').toLowerCase()[0];
        const start =
          unit === 'y'
            ? mk(today.y, 0, 1)
            : unit === 'm'
              ? mk(today.y, today.m, 1)
              : mk(today.y, Math.floor(today.m / 3) * 3, 1);
        return { type: 'period', value: range(start, today) };
      },
    ],
    [
      /\b(yesterday|today|tomorrow)\b/gi,
      3,
      (m, today) => {
        const w = (m[1] ?? '').toLowerCase();
        return {
          type: 'date',
          value: iso(addDays(today, w === 'yesterday' ? -1 : w === 'tomorrow' ? 1 : 0)),
        };
      },
    ],
    // Q3 2025, Q3 of FY2025, third quarter of 2025, Q3
    [
      /\b(?:q([1-4])|(first|second|third|fourth|1st|2nd|3rd|4th)\s+quarter)(?:\s*(?:of\s+)?(?:fy\s?)?((?:19|20)\d{2}))?\b/gi,
      4,
      (m, today) => {
        const q = m[1] !== undefined ? Number(m[1]) : (ORDINALS[(m[2] ?? '').toLowerCase()] ?? 1);
        // Without a year: the most recent such quarter that has started.
        const y = year(m[3], q - 1 <= Math.floor(today.m / 3) ? today.y : today.y - 1);
        return { type: 'period', value: quarterRange(y, q) };
      },
    ],
    // H1 2026, H2, 2026 H1, first half of 2025, the second half of last year, first half
    [
      /\b(?:h([12])|(first|1st|second|2nd)\s+half)(?:\s*(?:of\s+)?(?:(the\s+|this\s+|last\s+|previous\s+)?year|(?:fy\s?)?((?:19|20)\d{2})))?\b/gi,
      4,
      (m, today) => {
        const h = m[1] !== undefined ? Number(m[1]) : (ORDINALS[(m[2] ?? '').toLowerCase()] ?? 1);
        const rel = (m[3] ?? '').trim().toLowerCase();
        let y = m[4] !== undefined ? Number(m[4]) : h === 1 || today.m >= 6 ? today.y : today.y - 1;
        if (m[4] === undefined && (rel === 'this' || rel === 'the')) y = today.y;
        if (m[4] === undefined && (rel === 'last' || rel === 'previous')) y = today.y - 1;
        return { type: 'period', value: range(mk(y, (h - 1) * 6, 1), mk(y, h * 6, 0)) };
      },
    ],
    [
      /\b((?:19|20)\d{2})[\s-]?h([12])\b/gi,
      4,
      (m) => {
        const y = Number(m[1]);
        const h = Number(m[2]);
        return { type: 'period', value: range(mk(y, (h - 1) * 6, 1), mk(y, h * 6, 0)) };
      },
    ],
    // week 12, week 12 of 2026, W12 2026 (ISO weeks, Monday to Sunday)
    [
      /\b(?:week\s+(\d{1,2})|w(\d{1,2}))(?:\s*(?:of\s+)?((?:19|20)\d{2}))?\b/gi,
      4,
      (m, today) => {
        const w = Number(m[1] ?? m[2]);
        if (!(w >= 1 && w <= 53)) return undefined;
        const y = m[3] !== undefined ? Number(m[3]) : today.y;
        const jan4 = mk(y, 0, 4);
        const dow = (new Date(Date.UTC(jan4.y, jan4.m, jan4.d)).getUTCDay() + 6) % 7;
        const monday = addDays(jan4, -dow + 7 * (w - 1));
        return { type: 'period', value: range(monday, addDays(monday, 6)) };
      },
    ],
    // the week of 23 November / week of 2026-11-23: the Monday–Sunday week holding that day
    [
      new RegExp(
        `\\bweek\\s+(?:of|starting|beginning|from)\\s+(?:(\\d{4})-(\\d{2})-(\\d{2})|(\\d{1,2})(?:st|nd|rd|th)?\\s+(?:of\\s+)?(${MONTH_RE})|(${MONTH_RE})\\.?\\s+(\\d{1,2})(?:st|nd|rd|th)?)(?:,?\\s+((?:19|20)\\d{2}))?\\b`,
        'gi',
      ),
      1,
      (m, today) => {
        const d =
          m[1] !== undefined
            ? validDate(Number(m[1]), Number(m[2]) - 1, Number(m[3]))
            : m[4] !== undefined
              ? validDate(year(m[8], today.y), MONTHS[(m[5] ?? '').toLowerCase()] ?? 0, Number(m[4]))
              : validDate(year(m[8], today.y), MONTHS[(m[6] ?? '').toLowerCase()] ?? 0, Number(m[7]));
        if (d === undefined) return undefined;
        const dow = (new Date(Date.UTC(d.y, d.m, d.d)).getUTCDay() + 6) % 7;
        const monday = addDays(d, -dow);
        return { type: 'period', value: range(monday, addDays(monday, 6)) };
      },
    ],
    // the past week / the past month / the past year: the span ending today
    [
      /\b(?:the\s+)?past\s+(week|month|quarter|year)\b/gi,
      3,
      (m, today) => {
        const unit = (m[1] ?? '').toLowerCase();
        const start =
          unit === 'week'
            ? addDays(today, -6)
            : addDays(addMonths(today, unit === 'month' ? -1 : unit === 'quarter' ? -3 : -12), 1);
        return { type: 'period', value: range(start, today) };
      },
    ],
    // top 3, best five, bottom 2, 3 best (a ranking limit; the words around it stay for other slots)
    [
      new RegExp(
        `(?<=\\b(?:top|best|bottom|worst|leading|highest|lowest|biggest|largest|smallest)\\s+)(\\d{1,3}|${NUMBER_WORD_RE})\\b|\\b(\\d{1,3}|${NUMBER_WORD_RE})(?=\\s+(?:best|top|worst|biggest|largest|highest|lowest|leading|weakest|strongest)\\b)`,
        'gi',
      ),
      2,
      (m) => {
        const n = numberOf(m[1] ?? m[2] ?? '');
        return n >= 1 && n <= 100 ? { type: 'limit', value: n } : undefined;
      },
    ],
    // the number one product, #1: a limit of one
    [/\b(?:number\s+one|no\.?\s?1|#1)\b/gi, 2, () => ({ type: 'limit', value: 1 })],
    // 2025 Q3, 2025-Q3
    [
      /\b((?:19|20)\d{2})[\s-]?q([1-4])\b/gi,
      4,
      (m) => ({ type: 'period', value: quarterRange(Number(m[1]), Number(m[2])) }),
    ],
    // ISO date
    [
      /\b(\d{4})-(\d{2})-(\d{2})\b/g,
      5,
      (m) => {
        const d = validDate(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
        return d ? { type: 'date', value: iso(d) } : undefined;
      },
    ],
    // March 5, 2025 / March 5th
    [
      new RegExp(`\\b(${MONTH_RE})\\.?\\s+(\\d{1,2})(?:st|nd|rd|th)?(?:,?\\s+((?:19|20)\\d{2}))?\\b`, 'gi'),
      5,
      (m, today) => {
        const mo = MONTHS[(m[1] ?? '').toLowerCase()] ?? 0;
        const d = validDate(year(m[3], today.y), mo, Number(m[2]));
        return d ? { type: 'date', value: iso(d) } : undefined;
      },
    ],
    // 5 March 2025 / 5th of March
    [
      new RegExp(
        `\\b(\\d{1,2})(?:st|nd|rd|th)?\\s+(?:of\\s+)?(${MONTH_RE})\\b(?:,?\\s+((?:19|20)\\d{2}))?`,
        'gi',
      ),
      5,
      (m, today) => {
        const mo = MONTHS[(m[2] ?? '').toLowerCase()] ?? 0;
        const d = validDate(year(m[3], today.y), mo, Number(m[1]));
        return d ? { type: 'date', value: iso(d) } : undefined;
      },
    ],
    // July to September, from april through june 2025: whole months, the end month's year
    [
      new RegExp(
        `\\b(?:from\\s+)?(${MONTH_RE})\\.?\\s+(to|through|thru|till|until|-)\\s+(${MONTH_RE})\\b\\.?(?:,?\\s+(?:of\\s+)?((?:19|20)\\d{2}))?`,
        'gi',
      ),
      1,
      (m, today) => {
        // "compare September to August" names two months, not a span.
        if (m[2]?.toLowerCase() === 'to' && /\bcompar/i.test(m.input.slice(0, m.index))) return undefined;
        const a = MONTHS[(m[1] ?? '').toLowerCase()] ?? 0;
        const b = MONTHS[(m[3] ?? '').toLowerCase()] ?? 0;
        // A year names the end month's year; without one, the most recent span that has started.
        const wraps = a > b;
        let ys: number;
        if (m[4] !== undefined) ys = Number(m[4]) - (wraps ? 1 : 0);
        else ys = a <= today.m ? today.y : today.y - 1;
        return { type: 'period', value: range(mk(ys, a, 1), mk(ys + (wraps ? 1 : 0), b + 1, 0)) };
      },
    ],
    // March 2025, in March, october last year ("may" only with a year or a preposition: it is also a verb)
    [
      new RegExp(
        `\\b(?:(in|for|during|of|since|last|this)\\s+)?(${MONTH_RE})\\b\\.?(?:,?\\s+(?:of\\s+)?(?:((?:19|20)\\d{2})|(last|this|next)\\s+year\\b))?`,
        'gi',
      ),
      6,
      (m, today) => {
        const word = (m[2] ?? '').toLowerCase();
        if (word === 'may' && m[1] === undefined && m[3] === undefined && m[4] === undefined)
          return undefined;
        const mo = MONTHS[word] ?? 0;
        const rel = (m[1] ?? '').toLowerCase();
        const yearWord = (m[4] ?? '').toLowerCase();
        if (yearWord !== '') {
          const shift = yearWord === 'last' ? -1 : yearWord === 'next' ? 1 : 0;
          return { type: 'period', value: monthRange(today.y + shift, mo) };
        }
        // Without a year: the most recent such month that has started ("last March": the one before).
        let y = year(m[3], mo <= today.m ? today.y : today.y - 1);
        if (m[3] === undefined && rel === 'last' && mo === today.m) y -= 1;
        if (m[3] === undefined && rel === 'this') y = today.y;
        return { type: 'period', value: monthRange(y, mo) };
      },
    ],
    // in 2024, for FY2024, during 2023, over 2025, a bare 2025
    [
      /(?<![$€£¥\d.,-])\b(?:(?:in|for|during|of|since|year|fy|over|throughout|across|through|at)\s?)?((?:19|20)\d{2})\b(?![.,-]?\d|\s?(?:%|k\b|m\b|units?\b|dollars?\b|euros?\b))/gi,
      7,
      (m) => {
        const y = Number(m[1]);
        return { type: 'period', value: range(mk(y, 0, 1), mk(y, 11, 31)) };
      },
    ],
    // 12.5%, 12 percent
    [
      new RegExp(`(?<![\\w.])(-?(?:${NUM_RE}))\\s?(?:%|percent\\b|per\\s+cent\\b|pct\\b)`, 'gi'),
      8,
      (m) => ({
        type: 'percent',
        value: parseNumber(m[1] ?? ''),
      }),
    ],
    // $1,200  €3.5k  £2 million
    [
      new RegExp(`([$€£¥])\\s?(${NUM_RE})(?:\\s?(${MULT_RE})\\b)?`, 'gi'),
      8,
      (m) => ({
        type: 'money',
        value: { amount: parseNumber(m[2] ?? '', m[3]), currency: CURRENCY_SYMBOLS[m[1] ?? '$'] ?? 'USD' },
      }),
    ],
    // 3k EUR, 1,200 dollars, 2.5 million euros
    [
      new RegExp(`(?<![\\w.])(${NUM_RE})\\s?(?:(${MULT_RE})\\s?)?(${CURRENCY_WORD_RE})\\b`, 'gi'),
      8,
      (m) => ({
        type: 'money',
        value: {
          amount: parseNumber(m[1] ?? '', m[2]),
          currency: CURRENCY_WORDS[(m[3] ?? '').toLowerCase()] ?? 'USD',
        },
      }),
    ],
    // EUR 3,000
    [
      new RegExp(`\\b(${CURRENCY_WORD_RE})\\s?(${NUM_RE})(?:\\s?(${MULT_RE})\\b)?`, 'gi'),
      8,
      (m) => {
        const code = CURRENCY_WORDS[(m[1] ?? '').toLowerCase()];
        return code === undefined || !/^[a-z]{3}$/i.test(m[1] ?? '')
          ? undefined
          : { type: 'money', value: { amount: parseNumber(m[2] ?? '', m[3]), currency: code } };
      },
    ],
    // 1,200  3.5k  2 million
    [
      new RegExp(`(?<![\\w.$€£¥-])(-?(?:${NUM_RE}))(?:\\s?(${MULT_RE})\\b)?(?![\\w])`, 'gi'),
      10,
      (m) => ({
        type: 'number',
        value: parseNumber(m[1] ?? '', m[2]),
      }),
    ],
    [
      new RegExp(`\\b(${NUMBER_WORD_RE})\\b`, 'gi'),
      11,
      (m) => ({ type: 'number', value: numberOf(m[1] ?? '') }),
    ],
  ];
}

/** Compiled gazetteer matchers, cached per gazetteer object. */
const gazetteerCache = new WeakMap<object, { type: string; re: RegExp; lookup: Map<string, string> }[]>();

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Folds one character at a time so that offsets in the folded text are offsets in the original. */
function foldKeepingOffsets(text: string): string {
  let out = '';
  for (const ch of text) {
    const f = fold(ch);
    const lower = ch.toLowerCase();
    out += f.length === ch.length ? f : lower.length === ch.length ? lower : ch;
  }
  return out;
}

function normalisePhrase(phrase: string): string {
  return fold(phrase)
    .trim()
    .replace(/[\s-]+/g, ' ');
}

/** The gap of a gazetteer phrase with words between its parts ("how many … sell"). */
const GAP = /\s*(?:\.\.\.|…)\s*/;
/** Most words a gap stands for. */
const GAP_WORDS = 5;

/** Phrases with a gap, per gazetteer: both parts must occur, at most {@link GAP_WORDS} words apart. */
const gapCache = new WeakMap<object, { type: string; re: RegExp; key: string }[]>();

function gapMatchers(
  gazetteers: Readonly<Record<string, Gazetteer>>,
): { type: string; re: RegExp; key: string }[] {
  const cached = gapCache.get(gazetteers);
  if (cached) return cached;
  const words = (part: string): string => normalisePhrase(part).split(' ').map(escapeRe).join('[\\s-]+');
  const out = Object.entries(gazetteers).flatMap(([type, entries]) =>
    Object.entries(entries).flatMap(([key, synonyms]) =>
      synonyms
        .map((phrase) => phrase.split(GAP))
        .filter((parts) => parts.length === 2 && parts.every((p) => normalisePhrase(p) !== ''))
        .map(([head = '', tail = '']) => ({
          type,
          key,
          re: new RegExp(
            `(?<![\\p{L}\\p{N}])(${words(head)})(?:[\\s-]+[\\p{L}\\p{N}'’]+){0,${GAP_WORDS}}?[\\s-]+${words(tail)}(?![\\p{L}\\p{N}])`,
            'gu',
          ),
        })),
    ),
  );
  gapCache.set(gazetteers, out);
  return out;
}

function gazetteerMatchers(
  gazetteers: Readonly<Record<string, Gazetteer>>,
): { type: string; re: RegExp; lookup: Map<string, string> }[] {
  const cached = gazetteerCache.get(gazetteers);
  if (cached) return cached;
  const out = Object.entries(gazetteers).map(([type, entries]) => {
    const lookup = new Map<string, string>();
    for (const [key, synonyms] of Object.entries(entries)) {
      for (const phrase of [key, ...synonyms]) {
        if (GAP.test(phrase)) continue;
        const norm = normalisePhrase(phrase);
        if (norm !== '' && !lookup.has(norm)) lookup.set(norm, key);
      }
    }
    // Longest phrases first so that "north america" wins over "america".
    const alternatives = [...lookup.keys()]
      .sort((a, b) => b.length - a.length)
      .map((p) => p.split(' ').map(escapeRe).join('[\\s-]+'));
    const re = new RegExp(`(?<![\\p{L}\\p{N}])(${alternatives.join('|')})(?:'?s)?(?![\\p{L}\\p{N}])`, 'gu');
    return { type, re, lookup };
  });
  gazetteerCache.set(gazetteers, out);
  return out;
}

/**
 * Finds entities in `text`. Overlapping matches are resolved in favour of the longest span (so `the past
 * 30 days` is one period, not a period and a number), then by rule priority.
 *
 * Periods resolve against `options.now` in UTC: `last quarter` is the previous calendar quarter, `this
 * month` the whole current month, `the past 30 days` the 30 days ending today (inclusive), a month or
 * quarter without a year the most recent one that has started, `last week` the previous Monday–Sunday.
 *
 * @param text - the user's text
 * @param options - the clock reading and gazetteers
 * @returns the entities, in order of appearance, with character offsets
 * @example
 * ```ts
 * extractEntities('sales for last quarter in EMEA', { now: Date.UTC(2026, 4, 10), gazetteers: { region: { EMEA: ['europe'] } } });
 * // [{ type: 'period', value: { from: '2026-01-01', to: '2026-03-31' }, text: 'last quarter', … },
 * //  { type: 'region', value: 'EMEA', text: 'EMEA', … }]
 * ```
 */
export function extractEntities(text: string, options: EntityOptions): Entity[] {
  const today = dayOf(Number.isFinite(options.now) ? options.now : 0);
  const candidates: Candidate[] = [];
  for (const [re, priority, rule] of rules()) {
    re.lastIndex = 0;
    for (let m = re.exec(text); m !== null; m = re.exec(text)) {
      if (m[0] === '') {
        re.lastIndex++;
        continue;
      }
      const found = rule(m, today);
      if (found)
        candidates.push({ ...found, text: m[0], start: m.index, end: m.index + m[0].length, priority });
    }
  }
  if (options.gazetteers) {
    const folded = foldKeepingOffsets(text);
    for (const { type, re, lookup } of gazetteerMatchers(options.gazetteers)) {
      re.lastIndex = 0;
      for (let m = re.exec(folded); m !== null; m = re.exec(folded)) {
        const key = lookup.get((m[1] ?? '').replace(/[\s-]+/g, ' '));
        if (key === undefined) continue;
        const end = m.index + m[0].length;
        candidates.push({
          type,
          value: key,
          text: text.slice(m.index, end),
          start: m.index,
          end,
          priority: 9,
        });
      }
    }
    // A phrase with a gap is the entity of its first part, so what stands in the gap is found too.
    for (const { type, re, key } of gapMatchers(options.gazetteers)) {
      re.lastIndex = 0;
      for (let m = re.exec(folded); m !== null; m = re.exec(folded)) {
        const end = m.index + (m[1] ?? '').length;
        candidates.push({
          type,
          value: key,
          text: text.slice(m.index, end),
          start: m.index,
          end,
          priority: 9,
        });
      }
    }
  }
  candidates.sort(
    (a, b) => b.end - b.start - (a.end - a.start) || a.priority - b.priority || a.start - b.start,
  );
  const taken: Candidate[] = [];
  for (const c of candidates) {
    if (taken.every((t) => c.end <= t.start || c.start >= t.end)) taken.push(c);
  }
  taken.sort((a, b) => a.start - b.start);
  return taken.map(({ priority: _p, ...entity }) => entity);
}
