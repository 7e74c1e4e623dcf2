import { fileURLToPath } from 'node:url';
import { OfflineCognitive } from '../../src/cognitive/offline/cognitive.js';
import type { CognitiveContext } from '../../src/layers.js';
import type { JsonObject } from '../../src/model/json.js';
import type { DialogueTurn } from '../../src/model/session.js';
import type { Clock } from '../../src/ports/clock.js';
import { silentLogger } from '../../src/ports/logger.js';

/** Thursday 14 May 2026, 10:00 UTC: every period in these tests is relative to it. */
export const NOW = Date.UTC(2026, 4, 14, 10, 0, 0);

/** A clock stuck at {@link NOW}. */
export const fixedClock: Clock = { now: () => NOW, sleep: () => Promise.resolve() };

export const QUICKSTART_INTENTS = fileURLToPath(
  new URL('../../examples/quickstart/intents.yaml', import.meta.url),
);

let shared: OfflineCognitive | undefined;
/** The quickstart's cognitive layer, trained once per test file. */
export function quickstart(): OfflineCognitive {
  shared ??= new OfflineCognitive(QUICKSTART_INTENTS, { clock: fixedClock });
  return shared;
}

/** A CognitiveContext with the given dialogue state. */
export function context(
  init: {
    history?: DialogueTurn[];
    slots?: JsonObject;
    clarifications?: { question: string; answer: string; slot?: string }[];
  } = {},
): CognitiveContext {
  return {
    sessionId: 's1',
    turnId: 't1',
    signal: new AbortController().signal,
    clock: fixedClock,
    logger: silentLogger,
    metadata: {},
    history: init.history ?? [],
    slots: init.slots ?? {},
    clarifications: init.clarifications ?? [],
  };
}
