import { type z } from 'zod';
import { DATA_OWNING_SERVICES, type ServiceName } from './services.js';

/**
 * A versioned event: its name, the service that announces it, and the schema its
 * payload must satisfy on publish and again on consume. A new incompatible shape is a
 * new version in a new file; an existing version never changes.
 */
export interface EventContract<S extends z.ZodType = z.ZodType> {
  /** `UserDeleted.v1`: the stored type name, written into every message's headers. */
  readonly type: string;
  readonly name: string;
  readonly version: number;
  /** The announcing service, or `any` for facts several services announce (PurgeCompleted). */
  readonly producer: ServiceName | 'any';
  /** Who may publish it (NATS permissions): the producer, or for `any` the services named (default: every data owner). */
  readonly publishers: readonly ServiceName[];
  /** Subject below the namespace and the events root, e.g. `identity.user-deleted.v1` (`any.…` for `any`: see eventSubject). */
  readonly subjectSuffix: string;
  /**
   * For an `any` event: which of its publishers may announce this payload (PurgeCompleted:
   * the service it names; GenerationFinished: chat for chat, generation otherwise). A
   * consumer checks it against the publisher the subject names — the one part NATS
   * permissions pin to the publishing service. (Method syntax: read for any payload type.)
   */
  announcedBy?(payload: z.infer<S>): readonly ServiceName[];
  readonly schema: S;
}

export type EventPayload<E extends EventContract> = z.infer<E['schema']>;

export function defineEvent<S extends z.ZodType>(spec: {
  name: string;
  version: number;
  producer: ServiceName | 'any';
  publishers?: readonly ServiceName[];
  announcedBy?: (payload: z.infer<S>) => readonly ServiceName[];
  schema: S;
}): EventContract<S> {
  if ((spec.publishers || spec.announcedBy) && spec.producer !== 'any') throw new Error(`${spec.name}: only an event of producer \`any\` names its publishers`);
  if (!/^[A-Z][A-Za-z]+$/.test(spec.name)) throw new Error(`event name must be PascalCase: ${spec.name}`);
  const kebab = spec.name.replace(/([a-z])([A-Z])/g, '$1-$2').toLowerCase();
  return {
    type: `${spec.name}.v${spec.version}`,
    name: spec.name,
    version: spec.version,
    producer: spec.producer,
    publishers: spec.producer === 'any' ? (spec.publishers ?? DATA_OWNING_SERVICES) : [spec.producer],
    subjectSuffix: `${spec.producer}.${kebab}.v${spec.version}`,
    ...(spec.announcedBy === undefined ? {} : { announcedBy: spec.announcedBy }),
    schema: spec.schema,
  };
}

/** Why a payload failed its schema, by field path and rule only: never the offending value. */
function describeSchemaError(error: z.ZodError): string {
  return error.issues
    .slice(0, 5)
    .map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.code}`)
    .join('; ');
}

export class InvalidEventPayloadError extends Error {
  override readonly name = 'InvalidEventPayloadError';
  constructor(
    readonly eventType: string,
    readonly schemaError: string,
  ) {
    super(`invalid ${eventType} payload: ${schemaError}`);
  }
}

export function parseEventPayload<E extends EventContract>(event: E, payload: unknown): EventPayload<E> {
  const result = event.schema.safeParse(payload);
  if (!result.success) throw new InvalidEventPayloadError(event.type, describeSchemaError(result.error));
  return result.data as EventPayload<E>;
}
