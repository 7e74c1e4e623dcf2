import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runExample } from '../../../test/helpers/example.js';
import { startMediaStandIn, type MediaStandIn } from '../src/stand-in.js';

let service: MediaStandIn;
beforeAll(async () => {
  // The test's own stand-in, so it can see what the tool sent.
  service = await startMediaStandIn(4);
});
afterAll(async () => {
  await service?.close();
});

describe('examples/media-job', () => {
  it('stops for approval of the cost, then submits, polls with progress and returns the image', async () => {
    const p = runExample('media-job/src/main.ts', { MEDIA_API_URL: service.url, MEDIA_POLL_MS: '20' }, [
      '--yes',
      'a lighthouse at dawn',
    ]);
    expect(await p.exited()).toBe(0);
    const out = p.stdout();
    expect(out).toMatch(/^approval needed: .* \(medium risk\)$/m);
    // Progress while it polls: submitted, queued, in progress, completed, in that order.
    const progress = [...out.matchAll(/^progress: (.*)$/gm)].map((m) => m[1]);
    expect(progress[0]).toBe('job job-1 submitted (0%)');
    expect(progress).toContain('job job-1 in_queue (25%)');
    expect(progress).toContain('job job-1 in_progress (50%)');
    expect(progress.at(-1)).toBe('job job-1 completed (100%)');
    expect(out.indexOf('approval needed')).toBeLessThan(out.indexOf('progress: job job-1 submitted'));
    expect(out).toMatch(/^status: completed$/m);
    expect(out).toMatch(
      /^image: \{"jobId":"job-1","url":"https:\/\/media\.example\/job-1\.png","seconds":4\.2\}$/m,
    );
    expect(service.submitted.size).toBe(1);
  }, 120_000);

  it('submits nothing when the approval is denied', async () => {
    const before = service.submitted.size;
    const p = runExample('media-job/src/main.ts', { MEDIA_API_URL: service.url, MEDIA_POLL_MS: '20' }, [
      'a cat',
    ]);
    p.child.stdin.end('n\n');
    expect(await p.exited()).toBe(0);
    expect(p.stdout()).toMatch(/^image: skipped$/m);
    expect(p.stdout()).not.toMatch(/^progress:/m);
    expect(service.submitted.size).toBe(before);
  }, 120_000);
});
