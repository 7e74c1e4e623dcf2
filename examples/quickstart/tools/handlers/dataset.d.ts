/** One day's sales of one product in one region through one channel. */
export interface SalesRow {
  date: string;
  region: string;
  product: string;
  channel: string;
  units: number;
  revenue: number;
}
export declare const REGIONS: string[];
export declare const PRODUCTS: string[];
export declare const CHANNELS: string[];
/** The deterministic demo dataset (2024-01-01 … 2026-12-31). */
export declare function salesRows(): SalesRow[];
