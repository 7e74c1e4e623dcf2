/** A structured logger (pino-compatible shape: object first, message second). */
export interface Logger {
  debug(obj: Record<string, unknown>, msg?: string): void;
  info(obj: Record<string, unknown>, msg?: string): void;
  warn(obj: Record<string, unknown>, msg?: string): void;
  error(obj: Record<string, unknown>, msg?: string): void;
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
    (obj: Record<string, unknown>, msg?: string): void => {
      if (order.indexOf(l) < min) return;
      process.stderr.write(`${JSON.stringify({ level: l, time: Date.now(), msg, ...obj })}\n`);
    };
  return { debug: write('debug'), info: write('info'), warn: write('warn'), error: write('error') };
}
