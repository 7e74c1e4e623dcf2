import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { redact, redactingLogger, sensitiveKeys, type Logger } from 'dream-agent';

const SECRET = 'sk-live-0123456789abcdef';

function capture(): { logger: Logger; lines: unknown[] } {
  const lines: unknown[] = [];
  const push = (obj: Record<string, unknown>, msg?: string): void => void lines.push({ obj, msg });
  return { logger: { debug: push, info: push, warn: push, error: push }, lines };
}

describe('log redaction', () => {
  it('secret keys at any depth, schema-marked fields and known secret values never reach the sink', () => {
    const schema = {
      type: 'object',
      properties: {
        to: { type: 'string' },
        pin: { type: 'string', 'x-sensitive': true },
        creds: { type: 'object', properties: { passphrase: { type: 'string', writeOnly: true } } },
        items: {
          type: 'array',
          items: { type: 'object', properties: { cvv: { type: 'string', format: 'password' } } },
        },
      },
    };
    expect([...sensitiveKeys(schema)].sort()).toEqual(['cvv', 'passphrase', 'pin']);
    const { logger, lines } = capture();
    const log = redactingLogger(logger, { extraKeys: sensitiveKeys(schema), secrets: [SECRET] });
    const input = {
      tool: 'mail.send',
      input: { to: 'team@corp', pin: '1234', items: [{ cvv: '999' }] },
      headers: { Authorization: 'Bearer abc', 'x-api-key': 'k' },
      nested: { deeper: { password: 'hunter2', note: `key is ${SECRET}` } },
      err: new Error(`upstream said ${SECRET}`),
    };
    log.warn(input, `retrying with ${SECRET}`);
    const text = JSON.stringify(lines);
    for (const leaked of ['1234', '999', 'Bearer abc', 'hunter2', SECRET]) expect(text).not.toContain(leaked);
    expect(text).toContain('team@corp');
    expect(text).toContain('mail.send');
    // The caller's object is untouched.
    expect(input.nested.deeper.password).toBe('hunter2');
  });

  it('never throws and never leaks a planted secret, whatever the shape (property test)', () => {
    fc.assert(
      fc.property(
        fc.jsonValue({ maxDepth: 6 }),
        fc.constantFrom('password', 'token', 'apiKey', 'secret'),
        (value, key) => {
          const planted = { wrapper: value, [key]: SECRET, list: [value, { [key]: SECRET }] };
          const out = JSON.stringify(redact(planted, { secrets: [SECRET] }));
          expect(out).not.toContain(SECRET);
        },
      ),
      { numRuns: 200 },
    );
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic['self'] = cyclic;
    expect(redact(cyclic)).toEqual({ a: 1, self: '[circular]' });
  });
});
