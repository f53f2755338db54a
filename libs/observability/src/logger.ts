import { pino } from 'pino';
import { scrubPersonalData, scrubString } from './scrub.js';

export { scrubPersonalData } from './scrub.js';

export type Logger = import('pino').Logger;

export interface LoggerOptions {
  service: string;
  level?: string;
  /** Where JSON lines go; standard output when absent (tests pass a collecting stream). */
  destination?: pino.DestinationStream;
}

interface RequestLike {
  method?: string;
  url?: string;
  routeOptions?: { url?: string };
}

/**
 * JSON logs that cannot carry personal data (R2.4). Every path into a line is covered:
 * - `formatters.log` scrubs the merged object (redacted keys, scrubbed strings, errors);
 * - `formatters.bindings` and a wrapped `child()` scrub bindings;
 * - `hooks.logMethod` scrubs objects interpolated into the message (`%j`, `%o`), whose
 *   key names would be lost once they are turned into text;
 * - the `msg` serializer scrubs the final message, after pino has interpolated it or taken
 *   it from an error, which is the only place that sees the message as written.
 * `err`, `req` and `res` are left out of `formatters.log` (it runs before serializers) and
 * scrubbed by their own serializers; this also replaces Fastify's, which would log the raw
 * client IP as `remoteAddress`.
 */
export function createLogger(options: LoggerOptions): Logger {
  const logger = pino(
    {
      level: options.level ?? 'info',
      // Only the service, no pid/hostname: a host name can name someone's machine, and the
      // log shipper knows which instance wrote the line.
      base: { service: options.service },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: {
        level: (label) => ({ level: label }),
        bindings: (bindings) => scrubPersonalData(bindings),
        log: ({ err, req, res, ...rest }) => ({ ...scrubPersonalData(rest), err, req, res }),
      },
      hooks: {
        logMethod(args, method) {
          // With a leading object the message is args[1]; interpolated values follow it.
          const firstInterpolated = typeof args[0] === 'string' ? 1 : 2;
          const scrubbed = args.map((arg, index) =>
            index >= firstInterpolated && typeof arg === 'object' ? scrubPersonalData(arg) : arg,
          ) as Parameters<typeof method>;
          method.apply(this, scrubbed);
        },
      },
      serializers: {
        msg: (message: unknown) => (typeof message === 'string' ? scrubString(message) : scrubPersonalData(message)),
        err: (error: unknown) => scrubPersonalData(error),
        req: (request: RequestLike) => scrubPersonalData(serializeRequest(request)),
        res: (reply: { statusCode?: number }) => ({ statusCode: reply.statusCode }),
      },
    },
    options.destination,
  );
  // pino applies formatters.bindings to the root's bindings only and copies a child's as
  // given; children are created from their parent's prototype, so this covers all levels.
  // eslint-disable-next-line @typescript-eslint/unbound-method -- called with each child as `this`
  const child = logger.child;
  logger.child = function (this: Logger, bindings, childOptions) {
    return child.call(this, scrubPersonalData(bindings), childOptions);
  } as Logger['child'];
  return logger;
}

/**
 * Method and route template only: the raw URL may carry ids, usernames or emails in its
 * path and tokens in its query, and the client address is never logged (R2.1). Requests
 * that matched no route keep their path (probes are worth seeing) without the query.
 */
function serializeRequest(request: RequestLike): { method?: string; url?: string } {
  return { method: request.method, url: request.routeOptions?.url ?? request.url?.split('?')[0] };
}
