import { describe, expect, it } from './api.js';
import type { Json } from '../../model/json.js';
import type { EventBus } from '../../ports/bus.js';

/** What an EventBus factory returns: two handles on the same bus (two "nodes"). */
export interface BusContractSubject {
  /** One bus instance (what one node sees). */
  a: EventBus;
  /** A second instance on the same backend (another node): messages published on one reach the other. */
  b: EventBus;
  /** Called after each test (close connections…). */
  cleanup?: () => Promise<void>;
}

const waitFor = async (cond: () => boolean, what: string, timeoutMs = 5000): Promise<void> => {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
};

/**
 * The EventBus contract suite: delivery across handles, topic isolation, unsubscribe, order per
 * publisher, and JSON round-trips. Run by the memory bus and by every bus adapter.
 *
 * @param name - shown in the describe block
 * @param factory - returns two handles sharing one bus
 */
export function busContract(name: string, factory: () => Promise<BusContractSubject>): void {
  describe(`EventBus contract: ${name}`, () => {
    const run = (title: string, fn: (s: BusContractSubject) => Promise<void>): void => {
      it(title, async () => {
        const s = await factory();
        try {
          await fn(s);
        } finally {
          await s.cleanup?.();
        }
      });
    };

    run(
      'delivers a message published on one handle to subscribers on the other, in order',
      async ({ a, b }) => {
        const topic = `t-${Math.random().toString(36).slice(2)}`;
        const got: Json[] = [];
        const off = await b.subscribe(topic, (m) => got.push(m));
        for (let i = 0; i < 20; i += 1)
          await a.publish(topic, { i, nested: { ok: true, list: [1, 'x', null] } });
        await waitFor(() => got.length === 20, '20 messages');
        expect(got.map((m) => (m as { i: number }).i)).toEqual(Array.from({ length: 20 }, (_, i) => i));
        expect(got[0]).toEqual({ i: 0, nested: { ok: true, list: [1, 'x', null] } });
        await off();
      },
    );

    run('topics are isolated and unsubscribe stops delivery', async ({ a, b }) => {
      const t1 = `t1-${Math.random().toString(36).slice(2)}`;
      const t2 = `t2-${Math.random().toString(36).slice(2)}`;
      const got1: Json[] = [];
      const got2: Json[] = [];
      const off1 = await b.subscribe(t1, (m) => got1.push(m));
      const off2 = await b.subscribe(t2, (m) => got2.push(m));
      await a.publish(t1, 'one');
      await waitFor(() => got1.length === 1, 'first message');
      expect(got2).toEqual([]);
      await off1();
      await a.publish(t1, 'after-unsubscribe');
      await a.publish(t2, 'two');
      await waitFor(() => got2.length === 1, 'message on t2');
      expect(got1).toEqual(['one']);
      await off2();
    });

    run('a throwing subscriber does not stop other subscribers', async ({ a, b }) => {
      const topic = `t-${Math.random().toString(36).slice(2)}`;
      const got: Json[] = [];
      const off1 = await b.subscribe(topic, () => {
        throw new Error('subscriber bug');
      });
      const off2 = await b.subscribe(topic, (m) => got.push(m));
      await a.publish(topic, 1);
      await a.publish(topic, 2);
      await waitFor(() => got.length === 2, 'two messages');
      await off1();
      await off2();
    });
  });
}
