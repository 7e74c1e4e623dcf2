import { MemoryCache, MemoryEventBus, MemoryStore } from 'dream-agent';
import { busContract, cacheContract, ManualClock, storeContract } from 'dream-agent/testing';

// The in-memory ports run the same contract suites as every adapter.
storeContract('MemoryStore', async ({ clock }) => Promise.resolve({ store: new MemoryStore({ clock }) }));

busContract('MemoryEventBus', async () => {
  const bus = new MemoryEventBus();
  return Promise.resolve({ a: bus, b: bus });
});

cacheContract('MemoryCache', async () => {
  const clock = new ManualClock();
  return Promise.resolve({
    cache: new MemoryCache({ clock }),
    advance: async (ms: number) => {
      clock.advance(ms);
      return Promise.resolve();
    },
  });
});
