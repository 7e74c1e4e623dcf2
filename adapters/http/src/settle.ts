import type { AgentEvent, Run, RunResult } from 'dream-agent';

/** What a command or turn start answers without `wait`: it was accepted; events follow on the stream. */
export interface Accepted {
  status: 'accepted';
  sessionId: string;
  /** Seq of the first event it caused: subscribe with `after: firstSeq - 1` to see all of them. */
  firstSeq: number;
}

/**
 * Waits until a run is accepted (its first event, other than a rejection of the command) or settles.
 * With `wait`, waits for the result. Rejects with the run's typed error when it is refused.
 *
 * @param run - a Run from agent.run/send/resume
 * @param wait - wait for the session to rest
 * @returns `{ accepted }` or the run's result
 */
export function settle(run: Run, wait: boolean): Promise<{ accepted: Accepted } | { result: RunResult }> {
  if (wait) return run.result().then((result) => ({ result }));
  return new Promise((resolve, reject) => {
    const off = run.onAny((e: AgentEvent) => {
      if (e.type === 'command.rejected') return; // the result will reject with the typed error
      off();
      resolve({ accepted: { status: 'accepted', sessionId: e.sessionId, firstSeq: e.seq } });
    });
    run.result().then(
      (result) => {
        off();
        resolve({ result });
      },
      (e: unknown) => {
        off();
        reject(e);
      },
    );
  });
}
