// A small, deterministic business dataset: daily sales from 2024-01-01 to 2026-12-31 by region,
// product and channel. Generated from a seeded PRNG so every run (and every test) sees the same numbers.

export const REGIONS = ['North America', 'EMEA', 'APAC', 'LATAM'];
export const PRODUCTS = ['Atlas Laptop', 'Nimbus Phone', 'Orbit Tablet', 'Pulse Watch', 'Echo Buds'];
export const CHANNELS = ['online', 'retail', 'partner'];

const PRICE = {
  'Atlas Laptop': 1299,
  'Nimbus Phone': 899,
  'Orbit Tablet': 649,
  'Pulse Watch': 299,
  'Echo Buds': 149,
};
const REGION_WEIGHT = { 'North America': 1.4, EMEA: 1.1, APAC: 0.9, LATAM: 0.45 };
const CHANNEL_WEIGHT = { online: 1.0, retail: 0.7, partner: 0.4 };

function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

let cache;

/** @returns {{date: string, region: string, product: string, channel: string, units: number, revenue: number}[]} */
export function salesRows() {
  if (cache) return cache;
  const rand = mulberry32(20260101);
  const rows = [];
  const start = Date.UTC(2024, 0, 1);
  const end = Date.UTC(2026, 11, 31);
  for (let t = start, day = 0; t <= end; t += 86_400_000, day += 1) {
    const date = new Date(t).toISOString().slice(0, 10);
    const month = new Date(t).getUTCMonth();
    // growth over time, a Q4 season, and weekly rhythm
    const trend = 1 + day / 1500;
    const season = month >= 9 ? 1.35 : month <= 1 ? 0.85 : 1;
    const weekday = new Date(t).getUTCDay();
    const week = weekday === 0 || weekday === 6 ? 1.2 : 1;
    for (const region of REGIONS) {
      for (const product of PRODUCTS) {
        for (const channel of CHANNELS) {
          const base = 3 * REGION_WEIGHT[region] * CHANNEL_WEIGHT[channel] * trend * season * week;
          let units = Math.max(0, Math.round(base * (0.5 + rand())));
          // a few deliberate anomalies for the insight step to find
          if (date === '2026-08-14' && region === 'APAC') units *= 6;
          if (date === '2025-11-28') units *= 3; // Black Friday
          if (units === 0) continue;
          rows.push({ date, region, product, channel, units, revenue: units * PRICE[product] });
        }
      }
    }
  }
  cache = rows;
  return rows;
}
