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

/** chart.svg — a bar chart of rows (first text column vs the metric), in the rows' order. */
export async function chart(input, ctx) {
  const all = Array.isArray(input.rows) ? input.rows : [];
  const rows = all.slice(0, 60);
  const metric = input.metric === 'units' ? 'units' : 'revenue';
  const key = Object.keys(rows[0] ?? {}).find((k) => typeof rows[0][k] === 'string') ?? 'key';
  const max = Math.max(1, ...rows.map((r) => r[metric] ?? 0));
  const barH = rows.length > 16 ? 14 : 28;
  const width = 640;
  const height = 60 + rows.length * (barH + 6) + (all.length > rows.length ? 24 : 0);
  const bars = rows
    .map((r, i) => {
      const w = Math.round(((r[metric] ?? 0) / max) * 380);
      const y = 50 + i * (barH + 6);
      return `<text x="10" y="${y + barH - 4}" font-size="12">${esc(r[key])}</text><rect x="150" y="${y}" width="${w}" height="${barH}" fill="${r.partial ? '#b8c7ff' : '#4f7cff'}" rx="3"/><text x="${158 + w}" y="${y + barH - 4}" font-size="11">${esc(fmt(r[metric]))}${r.partial ? ' (partial)' : ''}</text>`;
    })
    .join('');
  const more =
    all.length > rows.length
      ? `<text x="10" y="${height - 10}" font-size="12">${all.length - rows.length} more not drawn</text>`
      : '';
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif"><text x="10" y="28" font-size="16" font-weight="bold">${esc(input.title ?? 'Revenue')}</text>${bars}${more}</svg>\n`;
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
  const key = q.groupBy ?? Object.keys(rows[0] ?? {}).find((k) => typeof rows[0][k] === 'string') ?? 'key';
  const narrative = [q.narrative, ins.narrative].filter(Boolean).join(' ');
  const lines = [
    `# ${input.title ?? 'Sales report'}`,
    '',
    `Period: ${q.period?.label ?? `${q.period?.from} – ${q.period?.to}`} (${q.period?.from} – ${q.period?.to}) · Scope: ${q.scope ?? 'all regions'}`,
    '',
    narrative || 'No figures.',
    '',
    `## By ${key}`,
    '',
    `| ${key} | revenue | units sold | share of ${q.metric === 'units' ? 'units' : 'revenue'} |`,
    '| --- | ---: | ---: | ---: |',
    ...rows.map((r) => `| ${r[key]} | ${fmt(r.revenue)} | ${fmt(r.units)} | ${fmt(r.sharePct)}% |`),
    '',
    `Total: revenue ${fmt(q.total?.revenue)}, units sold ${fmt(q.total?.units)}, from ${fmt(q.total?.salesRecords)} sales records (one per day, region, product and channel).`,
    '',
  ];
  if (Array.isArray(ins.anomalies) && ins.anomalies.length) {
    lines.push(
      '## Unusual days',
      '',
      ...ins.anomalies.map((a) => `- ${a.date}: ${fmt(a.value)} (${a.kind}, z = ${a.z})`),
      '',
    );
  }
  if (input.chart) lines.push(`![chart](${input.chart})`, '');
  const dir = outDir(ctx);
  await mkdir(dir, { recursive: true });
  const path = join(dir, 'report.md');
  ctx.delta(`${lines[0]}\n`);
  await writeFile(path, lines.join('\n'));
  return { path, summary: narrative };
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
  if (input.requireAttachments === true && attachments.length === 0)
    throw new Error('the report to attach is missing: nothing was sent');
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
  const names = attachments.map((a) => a.split(/[\\/]/).at(-1));
  const narrative = `I e-mailed "${input.subject ?? 'Report'}" to ${to}${names.length ? ` with ${names.length === 1 ? 'one attachment' : `${names.length} attachments`} (${names.join(', ')})` : ', without attachments'}.`;
  return { to, subject: input.subject ?? 'Report', outbox: path, attachments: attachments.length, narrative };
}
