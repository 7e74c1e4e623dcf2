import { z } from 'zod';

/** A JSON value: what todo inputs, outputs, slots and event payloads are made of. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** A JSON object. */
export type JsonObject = { [key: string]: Json };

/** zod schema for {@link Json}. */
export const JsonSchema: z.ZodType<Json> = z.lazy(() =>
  z.union([
    z.null(),
    z.boolean(),
    z.number(),
    z.string(),
    z.array(JsonSchema),
    z.record(z.string(), JsonSchema),
  ]),
);

/** zod schema for {@link JsonObject}. */
export const JsonObjectSchema: z.ZodType<JsonObject> = z.record(z.string(), JsonSchema);

/**
 * Returns the byte length of the JSON form of `value` (UTF-8), used by payload size limits.
 *
 * @param value - any JSON-serialisable value
 * @returns the size in bytes
 */
export function jsonByteLength(value: unknown): number {
  return Buffer.byteLength(JSON.stringify(value) ?? '', 'utf8');
}
