/**
 * Producer: what a service does when a request changes something, many times over —
 * a transaction that writes events to the outbox (Outbox.appendAll, or Outbox.append per
 * event) and commits. `concurrency` transactions are in flight at once.
 */
import { SystemClock } from '@homiwork/clock';
import { Outbox } from '@homiwork/messaging';
import { createServiceDataSource } from '@homiwork/persistence';
import { benchPayload, BENCH_EVENT, sharedClock, type WorkerSettings } from './protocol.js';
import { serve, tell } from './worker-kit.js';

export async function runProducer(settings: WorkerSettings): Promise<void> {
  const concurrency = settings.concurrency ?? 4;
  const txSize = settings.txSize ?? 50;
  const dataSource = createServiceDataSource({
    databaseUrl: settings.databaseUrl!,
    schema: settings.schema!,
    migrations: [],
    poolSize: concurrency,
    applicationName: `events-bench-${settings.name}`,
  });
  await dataSource.initialize();
  const outbox = new Outbox(settings.schema!, settings.namespace, new SystemClock());

  const commit = async (size: number): Promise<void> => {
    const ids = await dataSource.transaction(async (manager) => {
      const payloads = Array.from({ length: size }, benchPayload);
      if (settings.append === 'each') {
        const each: string[] = [];
        for (const payload of payloads) each.push(await outbox.append(manager, BENCH_EVENT, payload));
        return each;
      }
      return outbox.appendAll(manager, BENCH_EVENT, payloads);
    });
    tell({ kind: 'committed', ids, at: sharedClock() });
  };

  serve(
    async (message) => {
      if (message.kind !== 'produce') return;
      const transactions = Math.ceil(message.events / txSize);
      let next = 0;
      let late = 0;
      let txMs = 0;
      const wait = message.startAt - sharedClock();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      const loop = async (): Promise<void> => {
        while (next < transactions) {
          const tx = next++;
          if (message.rate) {
            // Transaction tx starts no earlier than its share of the offered rate.
            const due = message.startAt + ((tx * txSize) / message.rate) * 1000;
            const ahead = due - sharedClock();
            if (ahead > 0) await new Promise((resolve) => setTimeout(resolve, ahead));
            else if (ahead < -50) late++;
          }
          const started = sharedClock();
          await commit(Math.min(txSize, message.events - tx * txSize));
          txMs += sharedClock() - started;
        }
      };
      await Promise.all(Array.from({ length: concurrency }, loop));
      tell({ kind: 'produced', transactions, late, txMs });
    },
    () => dataSource.destroy(),
  );
  tell({ kind: 'ready' });
}
