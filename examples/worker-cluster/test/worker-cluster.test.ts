import { describe, expect, it } from 'vitest';
import { runExample } from '../../../test/helpers/example.js';

describe('examples/worker-cluster', () => {
  it('a session started on worker A is paused from worker B, resumed there and finished by B, each step once', async () => {
    const p = runExample('worker-cluster/src/main.ts', { STEP_MS: '800' });
    expect(await p.exited(), p.stderr()).toBe(0);
    const out = p.stdout();
    expect(out, out).toMatch(/"node":"B","op":"pause","session":"job-1","status":"paused"/);
    expect(out).toMatch(/"node":"A","op":"start","session":"job-1","status":"paused"/);
    expect(out).toMatch(/^final: completed$/m);
    const steps = /^steps: (.*)$/m.exec(out)?.[1]?.split(' ') ?? [];
    // Every step exactly once, in order; A ran the first, B the last (the pause lands at a step boundary).
    expect(steps.map((s) => s.split('@')[0])).toEqual(['extract', 'transform', 'load', 'report']);
    expect(steps[0]).toBe('extract@A');
    expect(steps.at(-1)).toBe('report@B');
    const firstOnB = steps.findIndex((s) => s.endsWith('@B'));
    expect(steps.slice(firstOnB).every((s) => s.endsWith('@B'))).toBe(true);
  }, 180_000);
});
