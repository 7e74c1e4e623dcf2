/**
 * Handler of media.generate_image: submit the job, poll its status (reporting progress) until it is
 * done, and return its result. The abort signal stops the polling (pause, cancel, timeout); the
 * idempotency key makes a retried submit return the same job instead of paying twice.
 *
 * @param {{ prompt: string, width: number, height: number }} input
 * @param {import('dream-agent').ToolContext} ctx
 */
export async function generateImage(input, ctx) {
  const base = process.env.MEDIA_API_URL;
  if (!base) throw new Error('MEDIA_API_URL is not set');
  const pollMs = Number(process.env.MEDIA_POLL_MS ?? 1000);
  const headers = {
    'content-type': 'application/json',
    authorization: `Bearer ${process.env.MEDIA_API_KEY ?? ''}`,
    'idempotency-key': ctx.idempotencyKey,
  };
  const call = async (path, init = {}) => {
    const res = await fetch(`${base}${path}`, { ...init, headers, signal: ctx.signal });
    if (!res.ok) throw new Error(`media service answered ${res.status} to ${path}`);
    return res.json();
  };

  const { id } = await call('/run', { method: 'POST', body: JSON.stringify({ input }) });
  ctx.progress(`job ${id} submitted`, 0);
  for (;;) {
    const job = await call(`/status/${encodeURIComponent(id)}`);
    if (job.status === 'COMPLETED') {
      ctx.progress(`job ${id} completed`, 100);
      return { jobId: id, url: job.output.url, seconds: job.executionTime / 1000 };
    }
    if (job.status === 'FAILED' || job.status === 'CANCELLED')
      throw new Error(`job ${id} ${job.status}: ${job.error ?? ''}`);
    ctx.progress(`job ${id} ${job.status.toLowerCase()}`, job.progress ?? undefined);
    await new Promise((resolve, reject) => {
      const timer = setTimeout(resolve, pollMs);
      ctx.signal.addEventListener(
        'abort',
        () => {
          clearTimeout(timer);
          reject(ctx.signal.reason);
        },
        { once: true },
      );
    });
  }
}
