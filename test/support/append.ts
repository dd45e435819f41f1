import type { BetEvent } from '../../src/events/types.js';
import type { EventStore } from '../../src/store/eventStore.js';

/** Appends events through the store in consecutive batches, as a producer would. */
export async function appendInBatches(
  store: EventStore,
  events: readonly BetEvent[],
  batch = 100,
): Promise<void> {
  for (let i = 0; i < events.length; i += batch) await store.append(events.slice(i, i + batch));
}
