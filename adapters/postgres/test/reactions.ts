/**
 * Immediate reactions under load: many sessions at once, each client answering every request the
 * moment its event arrives (plan review → `plan.approve`, approval → `approval.grant`), as a UI or a
 * bot does. Any refusal of such an answer is a false refusal: the client acted on an event the agent
 * itself emitted. Shared by the PostgreSQL test (bounded) and `bench/reactions.ts`.
 */
import {
  Agent,
  FunctionPlanner,
  isDreamAgentError,
  type AgentEvent,
  type Run,
  type Store,
} from 'dream-agent';

/** What a reaction load run saw. */
export interface ReactionReport {
  sessions: number;
  completed: number;
  /** Answers refused although they answered a request the agent had just announced. */
  falseRefusals: { code: string; command: string; message: string }[];
  /** Sessions that did not end completed (status at the end). */
  notCompleted: { sessionId: string; status: string }[];
  /** Command sent → first event of the run it started, ms. */
  reactionMs: number[];
  elapsedMs: number;
}

/**
 * @param store - the store (a fresh Agent is built on it)
 * @param sessions - how many sessions run at once
 * @returns what happened
 */
export async function immediateReactions(store: Store, sessions: number): Promise<ReactionReport> {
  const planner = new FunctionPlanner(() => ({
    todos: [
      { id: 'prepare', title: 'Prepare', domain: 'work', dependsOn: [], input: {}, idempotent: true },
      { id: 'send', title: 'Send', domain: 'work', dependsOn: ['prepare'], input: {}, approval: true },
      { id: 'report', title: 'Report', domain: 'work', dependsOn: ['send'], input: {}, idempotent: true },
    ],
  }));
  const agent = new Agent({
    store,
    planner,
    executors: { work: { execute: async (todo) => Promise.resolve({ output: { done: todo.id } }) } },
    hitl: { planReview: 'always' },
  });
  const report: ReactionReport = {
    sessions,
    completed: 0,
    falseRefusals: [],
    notCompleted: [],
    reactionMs: [],
    elapsedMs: 0,
  };
  const started = performance.now();
  // Follows a run; answers each request at once; returns the run that continues the session, if any.
  const follow = async (run: Run, sentAt?: number): Promise<Run | undefined> => {
    let next: Run | undefined;
    let first = true;
    for await (const e of run as AsyncIterable<AgentEvent>) {
      if (first && sentAt !== undefined) report.reactionMs.push(performance.now() - sentAt);
      first = false;
      if (next) continue;
      if (e.type === 'plan.review.requested')
        next = agent.send(e.sessionId, { type: 'plan.approve', actor: 'reviewer' });
      else if (e.type === 'approval.requested')
        next = agent.send(e.sessionId, { type: 'approval.grant', requestId: e.request.id, actor: 'manager' });
    }
    await run.result();
    return next;
  };
  await Promise.all(
    Array.from({ length: sessions }, async () => {
      let run: Run | undefined = agent.run('prepare, send and report');
      const sessionId = run.sessionId;
      let sentAt: number | undefined;
      let last: Run | undefined;
      while (run) {
        last = run;
        try {
          const next = await follow(run, sentAt);
          sentAt = performance.now();
          run = next;
        } catch (e) {
          if (isDreamAgentError(e))
            report.falseRefusals.push({ code: e.code, command: 'answer', message: e.message });
          else throw e;
          run = undefined;
        }
      }
      const result = await last?.result().catch(() => undefined);
      const rec = await store.getSession(sessionId);
      if (result?.status === 'completed' && rec?.status === 'idle') report.completed += 1;
      else
        report.notCompleted.push({
          sessionId,
          status: `${result?.status ?? 'refused'} / store ${rec?.status ?? 'missing'}`,
        });
    }),
  );
  report.elapsedMs = performance.now() - started;
  await agent.close();
  return report;
}
