/**
 * A structured logger with pino's shape: an object first (fields, or an `Error`), the message second. A
 * pino or bunyan logger can be passed as it is; so can anything whose methods take `(object, string?)`.
 *
 * @example
 * ```ts
 * logger.warn({ tool: 'sales.query', attempt: 2 }, 'retrying');
 * logger.error(err, 'tool failed'); // an Error is fine, as with pino
 * ```
 */
export interface Logger {
  /** Detail for debugging. */
  debug(obj: object, msg?: string): void;
  /** Normal operation. */
  info(obj: object, msg?: string): void;
  /** Something unexpected that was handled. */
  warn(obj: object, msg?: string): void;
  /** Something failed. */
  error(obj: object, msg?: string): void;
}

/** A logger that discards everything (the default). */
export const silentLogger: Logger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
};

/**
 * A logger writing JSON lines to stderr at or above `level`.
 *
 * @param level - the minimum level
 * @returns a logger
 */
export function consoleLogger(level: 'debug' | 'info' | 'warn' | 'error' = 'info'): Logger {
  const order = ['debug', 'info', 'warn', 'error'] as const;
  const min = order.indexOf(level);
  const write =
    (l: (typeof order)[number]) =>
    (obj: object, msg?: string): void => {
      if (order.indexOf(l) < min) return;
      // An Error's fields are not enumerable: log it as pino does, under `err`.
      const fields =
        obj instanceof Error ? { err: { type: obj.name, message: obj.message, stack: obj.stack } } : obj;
      process.stderr.write(`${JSON.stringify({ level: l, time: Date.now(), msg, ...fields })}\n`);
    };
  return { debug: write('debug'), info: write('info'), warn: write('warn'), error: write('error') };
}
