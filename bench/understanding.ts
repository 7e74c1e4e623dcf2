/**
 * Understanding and answer benchmark of the quick-start agent (the offline default configuration).
 *
 *   npx tsx bench/understanding.ts            # summary + every miss
 *   npx tsx bench/understanding.ts --json     # the summary as JSON (for CI)
 *   npx tsx bench/understanding.ts --heldout  # the held-out set (test/understanding/heldout.txt) instead
 *
 * For each hand-labelled request of test/understanding/requests.txt (clock: 1 December 2026, 10:00 UTC):
 * - understanding: the first intent the agent detects and its slots, against the gold labels
 *   (intent accuracy, slot F1, clarification rate on vague and on clear requests, out-of-scope acted on);
 * - the answer: the request is run to its end (plans approved, approvals granted, inputs given) and
 *   every figure the answer states is recomputed from the demo's raw data rows by bench/understanding/
 *   gold.ts — its own calendar and aggregation code, not the project's tools. An answer is `right` when
 *   it states the key figure and nothing that is not true, `declined` when it states no figure and
 *   says why, `wrong` otherwise.
 */
import type { Intent, Json } from 'dream-agent';
import {
  HELDOUT_FILE,
  factsFor,
  loadGold,
  matches,
  statedFigures,
  type GoldRequest,
} from './understanding/gold.js';
import { goldPairs, predictedPairs } from './understanding/score.js';
import { BENCH_NOW, closeBenchAgent, runRequest, type AgentOutcome } from './understanding/run-agent.js';

const TODAY = new Date(BENCH_NOW).toISOString().slice(0, 10);
const json = process.argv.includes('--json');

type Verdict = 'right' | 'declined' | 'wrong' | 'asked';

interface Scored {
  g: GoldRequest;
  o: AgentOutcome;
  intent: string;
  verdict?: Verdict;
  why?: string;
  tp: number;
  fp: number;
  fn: number;
}

function judge(g: GoldRequest, o: AgentOutcome, firstIntent: string): { verdict: Verdict; why: string } {
  if (o.status === 'asked') return { verdict: 'asked', why: o.asked?.prompt ?? '' };
  const figures = statedFigures(o.answer);
  if (g.intent === 'help' || g.intent === 'smalltalk.greeting') {
    return firstIntent === g.intent && figures.length === 0
      ? { verdict: 'right', why: '' }
      : { verdict: 'wrong', why: `intent ${firstIntent}` };
  }
  const facts = factsFor(g, TODAY);
  const wrong = figures.filter((f) => !matches(f, [...facts.all, ...facts.key]));
  if (wrong.length > 0) return { verdict: 'wrong', why: `not true: ${wrong.map((w) => w.text).join(', ')}` };
  if (figures.length === 0) {
    return /can't|cannot|not started|not in the data|no cost|not individual/i.test(o.answer)
      ? { verdict: 'declined', why: o.answer.slice(0, 140) }
      : { verdict: 'wrong', why: `no figures and no reason: ${o.answer.slice(0, 140)}` };
  }
  if (g.kind === 'd') return { verdict: 'wrong', why: 'answered a request that should be declined' };
  const keyStated = facts.key.some((k) => figures.some((f) => matches(f, [k])));
  if (!keyStated) return { verdict: 'wrong', why: 'the key figure is missing' };
  const to = g.slots['to']?.[0];
  if (to !== undefined) {
    const mail = o.events.find(
      (e) =>
        e.type === 'todo.completed' &&
        e.output !== null &&
        typeof e.output === 'object' &&
        'outbox' in e.output,
    );
    const out = mail && mail.type === 'todo.completed' ? (mail.output as Record<string, Json>) : undefined;
    if (!out || out['to'] !== to || !(Number(out['attachments']) >= 1))
      return { verdict: 'wrong', why: `e-mail not sent to ${to} with the report attached` };
  }
  if (g.intent === 'sales.top_products') {
    const listed = (o.answer.split('\n')[0]?.match(/(?:^|, |: )\d+\. /g) ?? []).length;
    const n = Number(g.slots['n']?.[0] ?? 5);
    const dim = g.slots['d']?.[0] ?? 'product';
    const count = dim === 'region' ? 4 : dim === 'channel' ? 3 : 5;
    if (listed !== Math.min(n, count)) return { verdict: 'wrong', why: `listed ${listed}, asked ${n}` };
  }
  if (firstIntent !== g.intent && g.kind === 'c') return { verdict: 'right', why: `(as ${firstIntent})` };
  return { verdict: 'right', why: '' };
}

async function main(): Promise<void> {
  const gold = loadGold(process.argv.includes('--heldout') ? HELDOUT_FILE : undefined);
  const scored: Scored[] = [];
  const started = performance.now();
  for (const g of gold) {
    const o = await runRequest(g.text);
    const first = o.events.find((e) => e.type === 'intent.detected');
    const intent = first && first.type === 'intent.detected' ? first.intent : undefined;
    const name =
      intent?.metadata?.['continues'] === 'report.email' ? 'sales.report' : (intent?.name ?? 'none');
    const predicted = predictedPairs(intent, g);
    const expected = goldPairs(g);
    const tp = [...predicted].filter((p) => expected.has(p)).length;
    const row: Scored = { g, o, intent: name, tp, fp: predicted.size - tp, fn: expected.size - tp };
    if (g.kind === 'c' || g.kind === 'd') Object.assign(row, judge(g, o, name));
    scored.push(row);
  }
  await closeBenchAgent();
  const ms = performance.now() - started;

  const of = (k: GoldRequest['kind'][]) => scored.filter((s) => k.includes(s.g.kind));
  const intentSet = of(['c', 'd', 'o']);
  const intentRight = intentSet.filter((s) => s.intent === s.g.intent).length;
  const slotSet = of(['c', 'd']);
  const tp = slotSet.reduce((a, s) => a + s.tp, 0);
  const fp = slotSet.reduce((a, s) => a + s.fp, 0);
  const fn = slotSet.reduce((a, s) => a + s.fn, 0);
  const precision = tp / Math.max(1, tp + fp);
  const recall = tp / Math.max(1, tp + fn);
  const f1 = (2 * precision * recall) / Math.max(1e-9, precision + recall);
  const asked = (s: Scored): boolean => s.o.asked !== undefined;
  const vague = of(['v']);
  const clear = of(['c']);
  const oos = of(['o']);
  const oosExecuted = oos.filter((s) => s.o.executed.length > 0);
  const answers = of(['c', 'd']);
  const count = (v: Verdict): number => answers.filter((s) => s.verdict === v).length;
  const summary = {
    set: process.argv.includes('--heldout') ? 'held-out' : 'development',
    requests: gold.length,
    byKind: {
      clear: clear.length,
      vague: vague.length,
      outOfScope: oos.length,
      impossible: of(['d']).length,
    },
    intentAccuracy: round(intentRight / Math.max(1, intentSet.length)),
    slotF1: round(f1),
    slotPrecision: round(precision),
    slotRecall: round(recall),
    clarificationOnVague: round(vague.filter(asked).length / Math.max(1, vague.length)),
    clarificationOnClear: round(clear.filter(asked).length / Math.max(1, clear.length)),
    outOfScopeExecuted: oosExecuted.length,
    answers: {
      checked: answers.length,
      right: count('right'),
      declined: count('declined'),
      asked: count('asked'),
      wrong: count('wrong'),
      rightRate: round(count('right') / Math.max(1, answers.length)),
    },
    msPerRequest: round(ms / gold.length),
  };
  if (json) {
    process.stdout.write(`${JSON.stringify(summary)}\n`);
    return;
  }
  console.log(JSON.stringify(summary, null, 2));
  const show = (title: string, rows: Scored[], detail: (s: Scored) => string): void => {
    if (rows.length === 0) return;
    console.log(`\n${title} (${rows.length})`);
    for (const s of rows) console.log(`  l.${s.g.line} ${JSON.stringify(s.g.text)}: ${detail(s)}`);
  };
  show(
    'intent misses',
    intentSet.filter((s) => s.intent !== s.g.intent),
    (s) => `${s.g.intent} → ${s.intent}`,
  );
  show(
    'slot misses',
    slotSet.filter((s) => s.fp + s.fn > 0),
    (s) =>
      `gold ${[...goldPairs(s.g)].join(' ')} | got ${[...predictedPairs(firstIntent(s.o), s.g)].join(' ')}`,
  );
  show(
    'vague not asked',
    vague.filter((s) => !asked(s)),
    (s) => `${s.intent}: ${s.o.answer.slice(0, 100)}`,
  );
  show('clear but asked', clear.filter(asked), (s) => `${s.intent}: ${s.o.asked?.prompt ?? ''}`);
  show('out of scope executed', oosExecuted, (s) => `${s.intent}: ${s.o.executed.join(', ')}`);
  show(
    'wrong answers',
    answers.filter((s) => s.verdict === 'wrong'),
    (s) => `${s.why}\n      ${s.o.answer.split('\n')[0]?.slice(0, 300) ?? ''}`,
  );
  show(
    'declined',
    answers.filter((s) => s.verdict === 'declined' && s.g.kind === 'c'),
    (s) => s.why ?? '',
  );
}

function firstIntent(o: AgentOutcome): Intent | undefined {
  const first = o.events.find((e) => e.type === 'intent.detected');
  return first && first.type === 'intent.detected' ? first.intent : undefined;
}

function round(v: number): number {
  return Math.round(v * 1000) / 1000;
}

await main();
