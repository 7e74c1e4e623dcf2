import { describe, expect, it } from 'vitest';
import { isDreamAgentError } from 'dream-agent';
import { Auth } from '../src/auth.js';

const options = {
  secret: 'a-test-secret-of-at-least-32-bytes!!',
  issuer: 'dream-test',
  audience: 'dream-test',
};

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    return isDreamAgentError(e) ? e.code : `not a DreamAgentError: ${String(e)}`;
  }
  return 'resolved';
}

// The server remembers verified JWTs so a client sending the same token on every request pays one HMAC
// check. The cache must never outlive the token, nor vouch for a token another secret would refuse.
describe('the verified-JWT cache', () => {
  it(
    'refuses a token once it has expired, although it was verified (and cached) before',
    { timeout: 30_000 },
    async () => {
      const auth = new Auth(options);
      const token = await auth.sign('ana', ['operator'], 2);
      const first = await auth.authenticate(token);
      expect(first.id).toBe('ana');
      expect(await codeOf(auth.authenticate(token))).toBe('resolved'); // served from the cache
      // Verification accepts a token up to 5 s past `exp` (clock skew between nodes); the cache must not
      // stretch that: past exp + 5 s the token is refused.
      const expiresAt = first.expiresAt ?? 0;
      await new Promise((r) => setTimeout(r, Math.max(0, expiresAt + 5_000 - Date.now()) + 100));
      expect(await codeOf(auth.authenticate(token))).toBe('UNAUTHENTICATED');
    },
  );

  it('is per secret: a token cached by one Auth is refused by an Auth with another secret', async () => {
    const a = new Auth(options);
    const b = new Auth({ ...options, secret: 'another-secret-of-at-least-32-bytes!' });
    const token = await a.sign('ana', ['viewer']);
    await a.authenticate(token);
    expect(await codeOf(b.authenticate(token))).toBe('UNAUTHENTICATED');
  });

  it('hands out copies: a caller mutating its principal does not change the next one', async () => {
    const auth = new Auth(options);
    const token = await auth.sign('ana', ['viewer']);
    const p = await auth.authenticate(token);
    (p.roles as string[]).push('admin');
    expect((await auth.authenticate(token)).roles).not.toContain('admin');
  });
});
