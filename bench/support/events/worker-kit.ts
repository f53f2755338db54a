/** The child side of the IPC channel: settings, messages to the bench, dying loudly. */
import type { FromWorker, ToWorker, WorkerSettings } from './protocol.js';

export function workerSettings(): WorkerSettings {
  const raw = process.env.BENCH_WORKER;
  if (!raw || !process.send) throw new Error('a bench worker is started by bench/events.bench.ts, with an IPC channel and BENCH_WORKER');
  return JSON.parse(raw) as WorkerSettings;
}

export function tell(message: FromWorker): void {
  process.send!(message);
}

/** Reports the error to the bench and exits; the bench then fails the run and stops the others. */
export function die(error: unknown): void {
  const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
  setTimeout(() => process.exit(1), 1_000).unref();
  if (process.connected) process.send!({ kind: 'error', message } satisfies FromWorker, undefined, {}, () => process.exit(1));
  else process.exit(1);
}

/**
 * Handles the bench's messages in order; `stop` runs `shutdown` and exits. A lost bench
 * (the channel closed) ends the worker too, so no process outlives a killed run.
 */
export function serve(handle: (message: ToWorker) => Promise<void> | void, shutdown: () => Promise<void>): void {
  let chain = Promise.resolve();
  const stop = async (code: number): Promise<void> => {
    await Promise.race([shutdown().catch(() => undefined), new Promise((resolve) => setTimeout(resolve, 5_000))]);
    process.exit(code);
  };
  process.on('message', (message: ToWorker) => {
    chain = chain.then(async () => {
      if (message.kind === 'stop') return stop(0);
      try {
        await handle(message);
      } catch (error) {
        die(error);
      }
    });
  });
  process.on('disconnect', () => void stop(3));
  process.on('unhandledRejection', (error) => die(error));
  process.on('uncaughtException', (error) => die(error));
}
