// Handlers of the demo's content and ops tools: a Markdown report, an SVG chart, and an e-mail that is
// "sent" into an outbox folder. Files go to $DREAM_AGENT_OUTPUT (default ./output) / <session id>/.
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';

function outDir(ctx) {
  return resolve(process.env.DREAM_AGENT_OUTPUT ?? 'output', ctx.sessionId, ctx.turnId);
}

const fmt = (n) =>
  typeof n === 'number' ? n.toLocaleString('en-US', { maximumFractionDigits: 2 }) : String(n ?? '—');
const esc = (s) =>
  String(s).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);

/** chart.svg — a bar chart of rows (first text column vs revenue). */
export async function chart(input, ctx) {
  const rows = (Array.isArray(input.rows) ? input.rows : []).slice(0, 12);
  const key = Object.keys(rows[0] ?? {}).find((k) => typeof rows[0][k] === 'string') ?? 'key';
  const max = Math.max(1, ...rows.map((r) => r.revenue ?? 0));
  const barH = 28;
  const width = 640;
  const height = 60 + rows.length * (barH + 10);
  const bars = rows
    .map((r, i) => {
      const w = Math.round(((r.revenue ?? 0) / max) * 380);
      const y = 50 + i * (barH + 10);
      return `<text x="10" y="${y + 19}" font-size="13">${esc(r[key])}</text><rect x="150" y="${y}" width="${w}" height="${barH}" fill="#4f7cff" rx="3"/><text x="${158 + w}" y="${y + 19}" font-size="12">${esc(fmt(r.revenue))}</text>`;
    })
    .join('');
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif"><text x="10" y="28" font-size="16" font-weight="bold">${esc(input.title ?? 'Revenue')}</text>${bars}</svg>\n`;
  const dir = outDir(ctx);
  await mkdir(dir, { recursive: true });
  const path = join(dir, 'chart.svg');
  ctx.progress('writing chart', 80);
  await writeFile(path, svg);
  return { path, bars: rows.length };
}

/** report.markdown — a Markdown report from the query and the insights. */
export async function report(input, ctx) {
  const q = input.data ?? {};
  const ins = input.insights ?? {};
  const rows = Array.isArray(q.rows) ? q.rows : [];
  const key = Object.keys(rows[0] ?? {}).find((k) => typeof rows[0][k] === 'string') ?? 'key';
  const lines = [
    `# ${input.title ?? 'Sales report'}`,
    '',
    `Period: ${q.period?.label ?? `${q.period?.from} – ${q.period?.to}`} · Region: ${q.region ?? 'all'}`,
    '',
    `**Total revenue:** ${fmt(q.totalRevenue)} (previous period ${fmt(q.previousRevenue)}${ins.growthPct === null || ins.growthPct === undefined ? '' : `, ${ins.growthPct >= 0 ? '+' : ''}${ins.growthPct}%`})`,
    '',
    `## By ${q.groupBy ?? key}`,
    '',
    `| ${key} | revenue | units | share |`,
    '| --- | ---: | ---: | ---: |',
    ...rows.map(
      (r) =>
        `| ${r[key]} | ${fmt(r.revenue)} | ${fmt(r.units)} | ${fmt(ins.share?.find((s) => s[key] === r[key])?.sharePct)}% |`,
    ),
    '',
    '## Highlights',
    '',
    ins.summary ? `- ${ins.summary.split('; ').join('\n- ')}` : '- none',
    '',
  ];
  if (Array.isArray(ins.anomalies) && ins.anomalies.length) {
    lines.push(
      '## Unusual days',
      '',
      ...ins.anomalies.map((a) => `- ${a.date}: ${fmt(a.revenue)} (z = ${a.z})`),
      '',
    );
  }
  if (input.chart) lines.push(`![chart](${input.chart})`, '');
  const dir = outDir(ctx);
  await mkdir(dir, { recursive: true });
  const path = join(dir, 'report.md');
  ctx.delta(`${lines[0]}\n`);
  await writeFile(path, lines.join('\n'));
  return { path, summary: `report written (${rows.length} ${q.groupBy ?? 'rows'})` };
}

/** email.send — not idempotent, gated by approval; asks for the recipient when missing. */
export async function sendEmail(input, ctx) {
  let to = typeof input.to === 'string' && input.to.includes('@') ? input.to : undefined;
  if (!to) {
    to = await ctx.requestInput({
      key: 'recipient',
      prompt: 'Who should receive the report? (an e-mail address)',
      schema: { type: 'string', pattern: '^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$' },
    });
  }
  const attachments = (Array.isArray(input.attachments) ? input.attachments : []).filter(
    (a) => typeof a === 'string',
  );
  const dir = join(outDir(ctx), 'outbox');
  await mkdir(dir, { recursive: true });
  const path = join(dir, `${ctx.idempotencyKey}.eml`);
  const body = [
    `To: ${to}`,
    `Subject: ${input.subject ?? 'Report'}`,
    `Idempotency-Key: ${ctx.idempotencyKey}`,
    '',
    input.body ?? 'Please find the report attached.',
    '',
    ...attachments.map((a) => `Attachment: ${a}`),
    '',
  ].join('\n');
  // The idempotency key names the file: a retried send overwrites rather than duplicates.
  await writeFile(path, body);
  return { to, outbox: path, attachments: attachments.length };
}
