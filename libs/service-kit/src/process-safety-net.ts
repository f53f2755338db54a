import type { Logger } from '@homiwork/observability';

export interface ProcessSafetyNetOptions {
  logger: Logger;
  /** Graceful stop (the Nest app's close) before exiting after an uncaught exception. */
  shutdown: () => Promise<void>;
  /** Counts what the net caught, for the service's /metrics. */
  onCaught?: (kind: 'unhandled_rejection' | 'uncaught_exception') => void;
  /** How long the graceful stop may take before the process exits anyway. */
  shutdownTimeoutMs?: number;
  /** Test seam; production exits the process. */
  exit?: (code: number) => void;
}

export interface ProcessSafetyNet {
  readonly onUnhandledRejection: (reason: unknown) => void;
  readonly onUncaughtException: (error: unknown) => void;
  uninstall(): void;
}

/**
 * What a process does with a failure no code caught. The two cases differ, on purpose:
 *
 * - **An unhandled promise rejection** is one asynchronous operation that failed with nobody
 *   awaiting it — a request's or an event's work, by construction finished (rejected), with
 *   no synchronous code interrupted half-way. Killing the process for it would fail every
 *   other request in flight and, under a supervisor, let any caller who can trigger it take
 *   the service down. It is logged (scrubbed, like every log line), counted, and survived.
 * - **An uncaught exception** is a synchronous throw that unwound to the event loop: some
 *   code stopped in the middle of what it was doing (a stream half-written, a listener list
 *   half-run), and Node documents that resuming is unsafe. It is logged and counted, the
 *   service closes gracefully (stop taking requests, unacked events return to JetStream)
 *   within a deadline, and the process exits 1 so the supervisor starts a clean one.
 *
 * Request paths (RpcServer, EventConsumer) catch their own failures; this net is the last
 * line, not the mechanism.
 */
export function installProcessSafetyNet(options: ProcessSafetyNetOptions): ProcessSafetyNet {
  const { logger, shutdown, onCaught, shutdownTimeoutMs = 10_000, exit = (code: number) => process.exit(code) } = options;
  let exiting = false;
  const onUnhandledRejection = (reason: unknown): void => {
    onCaught?.('unhandled_rejection');
    logger.error({ err: asError(reason) }, 'unhandled promise rejection; the process goes on');
  };
  const onUncaughtException = (error: unknown): void => {
    onCaught?.('uncaught_exception');
    logger.fatal({ err: asError(error) }, 'uncaught exception; closing the service and exiting');
    if (exiting) return; // a second throw during the shutdown: the deadline below still ends the process
    exiting = true;
    const deadline = setTimeout(() => exit(1), shutdownTimeoutMs);
    deadline.unref();
    shutdown().then(
      () => exit(1),
      () => exit(1),
    );
  };
  process.on('unhandledRejection', onUnhandledRejection);
  process.on('uncaughtException', onUncaughtException);
  return {
    onUnhandledRejection,
    onUncaughtException,
    uninstall() {
      process.off('unhandledRejection', onUnhandledRejection);
      process.off('uncaughtException', onUncaughtException);
    },
  };
}

function asError(value: unknown): Error {
  return value instanceof Error ? value : new Error(`non-error value thrown: ${typeof value}`);
}
