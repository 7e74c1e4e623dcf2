/**
 * Periods as a user means them: what calendar unit a `{ from, to }` range is, a human label for it,
 * where it stops when it runs past today, and which period its growth is measured against.
 *
 * Why this exists: a range that runs into the future ("this year" on 1 December) used to be reported as
 * if the remaining days were actuals, and growth was measured against the same number of days shifted
 * back — so Q3 (92 days) was compared with 2 April – 30 June instead of Q2. Here a calendar unit is
 * compared with the previous calendar unit (or, when it is cut at today, with the same elapsed span of
 * the previous unit), and anything else with the span of the same length just before it.
 *
 * All arithmetic is in UTC on whole days.
 *
 * @packageDocumentation
 */
import type { JsonObject } from '../../model/json.js';

/** The calendar unit a period covers exactly, or `span` for any other range. */
export type PeriodUnit = 'day' | 'week' | 'month' | 'quarter' | 'half' | 'year' | 'span';

/** A period resolved against the clock: what {@link describePeriod} returns. */
export interface ResolvedPeriod extends JsonObject {
  /** First day, ISO `YYYY-MM-DD`. */
  from: string;
  /** Last day included (never after today), ISO `YYYY-MM-DD`. */
  to: string;
  /** A human label: `Q3 2026`, `Q4 2026 to date`, `H1 2026`, `the week of 23 Nov 2026`… */
  label: string;
  /** The calendar unit the (uncut) range covers. */
  unit: PeriodUnit;
  /** True when the range was cut at today (the unit is not over yet). */
  toDate: boolean;
  /** The period growth is measured against, with its own label. */
  previous: { from: string; to: string; label: string };
}

const DAY = 86_400_000;
const MONTH_NAMES = [
  'January',
  'February',
  'March',
  'April',
  'May',
  'June',
  'July',
  'August',
  'September',
  'October',
  'November',
  'December',
];

function parse(isoDate: string): number {
  return Date.parse(`${isoDate}T00:00:00Z`);
}
function iso(t: number): string {
  return new Date(t).toISOString().slice(0, 10);
}
function parts(t: number): { y: number; m: number; d: number; dow: number } {
  const x = new Date(t);
  return { y: x.getUTCFullYear(), m: x.getUTCMonth(), d: x.getUTCDate(), dow: (x.getUTCDay() + 6) % 7 };
}
function utc(y: number, m: number, d: number): number {
  return Date.UTC(y, m, d);
}
/** Short day label: `23 Nov 2026`. */
export function dayLabel(isoDate: string): string {
  const p = parts(parse(isoDate));
  return `${p.d} ${MONTH_NAMES[p.m]?.slice(0, 3) ?? ''} ${p.y}`;
}
function spanLabel(from: string, to: string): string {
  if (from === to) return dayLabel(from);
  const a = parts(parse(from));
  const b = parts(parse(to));
  const left = a.y === b.y ? `${a.d} ${MONTH_NAMES[a.m]?.slice(0, 3) ?? ''}` : dayLabel(from);
  return `${left} – ${dayLabel(to)}`;
}

/** The calendar unit `[from, to]` covers exactly, with the start of that unit. */
function unitOf(from: number, to: number): PeriodUnit {
  const a = parts(from);
  const b = parts(to);
  if (from === to) return 'day';
  if (a.dow === 0 && to - from === 6 * DAY) return 'week';
  if (a.d !== 1) return 'span';
  const end = (months: number): number => utc(a.y, a.m + months, 0);
  if (to === end(1)) return 'month';
  if (a.m % 3 === 0 && to === end(3)) return 'quarter';
  if (a.m % 6 === 0 && to === end(6)) return 'half';
  if (a.m === 0 && to === end(12) && b.y === a.y) return 'year';
  return 'span';
}

function unitLabel(unit: PeriodUnit, from: number, to: number): string {
  const a = parts(from);
  switch (unit) {
    case 'day':
      return dayLabel(iso(from));
    case 'week':
      return `the week of ${dayLabel(iso(from))}`;
    case 'month':
      return `${MONTH_NAMES[a.m] ?? ''} ${a.y}`;
    case 'quarter':
      return `Q${Math.floor(a.m / 3) + 1} ${a.y}`;
    case 'half':
      return `H${a.m < 6 ? 1 : 2} ${a.y}`;
    case 'year':
      return String(a.y);
    default:
      return spanLabel(iso(from), iso(to));
  }
}

/** Start of the unit before the one starting at `from`. */
function previousStart(unit: PeriodUnit, from: number): number {
  const a = parts(from);
  switch (unit) {
    case 'day':
      return from - DAY;
    case 'week':
      return from - 7 * DAY;
    case 'month':
      return utc(a.y, a.m - 1, 1);
    case 'quarter':
      return utc(a.y, a.m - 3, 1);
    case 'half':
      return utc(a.y, a.m - 6, 1);
    default:
      return utc(a.y - 1, a.m, 1);
  }
}
function unitEnd(unit: PeriodUnit, start: number): number {
  const a = parts(start);
  switch (unit) {
    case 'day':
      return start;
    case 'week':
      return start + 6 * DAY;
    case 'month':
      return utc(a.y, a.m + 1, 0);
    case 'quarter':
      return utc(a.y, a.m + 3, 0);
    case 'half':
      return utc(a.y, a.m + 6, 0);
    default:
      return utc(a.y + 1, a.m, 0);
  }
}

/**
 * Resolves a `{ from, to }` range against today: recognises the calendar unit, cuts the range at today,
 * labels it and picks the period to compare it with.
 *
 * @param period - an inclusive range of ISO dates
 * @param today - today, ISO `YYYY-MM-DD` (from the session's clock)
 * @returns the resolved period, or `undefined` when the range starts after today (nothing has happened
 *   yet: the caller should decline rather than report zeros as actuals)
 * @example
 * ```ts
 * describePeriod({ from: '2026-07-01', to: '2026-09-30' }, '2026-12-01');
 * // { from: '2026-07-01', to: '2026-09-30', label: 'Q3 2026', unit: 'quarter', toDate: false,
 * //   previous: { from: '2026-04-01', to: '2026-06-30', label: 'Q2 2026' } }
 * ```
 */
export function describePeriod(
  period: { from: string; to: string },
  today: string,
): ResolvedPeriod | undefined {
  let from = parse(period.from);
  let to = parse(period.to);
  if (!Number.isFinite(from) || !Number.isFinite(to)) return undefined;
  if (to < from) [from, to] = [to, from];
  const now = parse(today);
  if (from > now) return undefined;
  // A range ending today that starts a unit is that unit "to date" (year to date, this month…).
  let unit = unitOf(from, to);
  if (unit === 'span' && to === now) {
    for (const u of ['week', 'month', 'quarter', 'half', 'year'] as const) {
      if (previousStart(u, unitEnd(u, from) + DAY) === from && unitEnd(u, from) >= now) {
        unit = u;
        break;
      }
    }
  }
  const toDate = unit !== 'span' && unitEnd(unit, from) > now && to >= now;
  const end = Math.min(to, now);
  if (unit === 'span') {
    const len = end - from + DAY;
    const prevTo = from - DAY;
    const prevFrom = from - len;
    const days = Math.round(len / DAY);
    return {
      from: iso(from),
      to: iso(end),
      label: spanLabel(iso(from), iso(end)),
      unit,
      toDate: false,
      previous: {
        from: iso(prevFrom),
        to: iso(prevTo),
        label: `the previous ${days} day${days === 1 ? '' : 's'} (${spanLabel(iso(prevFrom), iso(prevTo))})`,
      },
    };
  }
  const prevFrom = previousStart(unit, from);
  const prevUnitEnd = unitEnd(unit, prevFrom);
  const base = unitLabel(unit, from, unitEnd(unit, from));
  if (!toDate) {
    return {
      from: iso(from),
      to: iso(end),
      label: base,
      unit,
      toDate: false,
      previous: { from: iso(prevFrom), to: iso(prevUnitEnd), label: unitLabel(unit, prevFrom, prevUnitEnd) },
    };
  }
  // Cut at today: compare with the same elapsed days of the previous unit (never past its end).
  const elapsed = end - from;
  const prevTo = Math.min(prevFrom + elapsed, prevUnitEnd);
  return {
    from: iso(from),
    to: iso(end),
    label: `${base} to date (${spanLabel(iso(from), iso(end))})`,
    unit,
    toDate: true,
    previous: {
      from: iso(prevFrom),
      to: iso(prevTo),
      label: `the same days of ${unitLabel(unit, prevFrom, prevUnitEnd)} (${spanLabel(iso(prevFrom), iso(prevTo))})`,
    },
  };
}
