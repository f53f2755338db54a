import { DiscardPolicy, RetentionPolicy, StorageType, type JetStreamManager, type StreamConfig } from '@nats-io/jetstream';
import { deadLetterRootSubject, DEAD_LETTER_STREAM, EVENTS_STREAM, eventsRootSubject, streamName } from '@homiwork/contracts';
import { provisionOrExplain } from './provisioning.js';

const SECOND_NS = 1_000_000_000;
const DAY_NS = 24 * 60 * 60 * SECOND_NS;

export interface StreamLimits {
  /** How long an event stays available to a consumer that is down. */
  maxAgeDays: number;
  /** Publishes with the same Nats-Msg-Id inside this window are stored once. */
  duplicateWindowSeconds: number;
  maxBytes: number;
  replicas: number;
}

export const DEFAULT_STREAM_LIMITS: StreamLimits = {
  maxAgeDays: 30,
  duplicateWindowSeconds: 120,
  maxBytes: 1024 ** 3,
  replicas: 1,
};

function streamConfigs(ns: string, limits: StreamLimits): Array<Partial<StreamConfig> & { name: string; subjects: string[] }> {
  const common = {
    storage: StorageType.File,
    retention: RetentionPolicy.Limits,
    // Refuse new events rather than silently dropping old ones a consumer has not read.
    discard: DiscardPolicy.New,
    num_replicas: limits.replicas,
    max_msg_size: 64 * 1024,
    duplicate_window: limits.duplicateWindowSeconds * SECOND_NS,
  };
  return [
    { ...common, name: streamName(ns, EVENTS_STREAM), subjects: [`${eventsRootSubject(ns)}.>`], max_age: limits.maxAgeDays * DAY_NS, max_bytes: limits.maxBytes },
    { ...common, name: streamName(ns, DEAD_LETTER_STREAM), subjects: [`${deadLetterRootSubject(ns)}.>`], max_age: 90 * DAY_NS, max_bytes: limits.maxBytes / 8 },
  ];
}

/**
 * Creates the event and dead-letter streams, or brings an existing stream's settings up
 * to date (the migrate tool, as the provisioning user). Streams are provisioned
 * explicitly, never implied by a publish.
 */
export async function provisionStreams(jsm: JetStreamManager, ns: string, limits: StreamLimits = DEFAULT_STREAM_LIMITS): Promise<string[]> {
  const names: string[] = [];
  for (const config of streamConfigs(ns, limits)) {
    const exists = await jsm.streams.info(config.name).then(
      () => true,
      () => false,
    );
    if (exists) await jsm.streams.update(config.name, config);
    else await jsm.streams.add(config);
    names.push(config.name);
  }
  return names;
}

/**
 * A service's check at boot: both streams exist. It changes nothing that exists — the
 * streams' settings are migrate's (a service's user may not update a stream: it could
 * widen its subjects or shrink its limits) — and creates a missing stream only where the
 * server lets it (a server without users, in tests); refused, it says to run migrate.
 */
export async function verifyStreams(jsm: JetStreamManager, ns: string, limits: StreamLimits = DEFAULT_STREAM_LIMITS): Promise<string[]> {
  const names: string[] = [];
  for (const config of streamConfigs(ns, limits)) {
    const found = await jsm.streams.info(config.name).catch((error: unknown) => {
      if (error instanceof Error && /stream not found/i.test(error.message)) return null;
      throw error;
    });
    if (!found) await provisionOrExplain(`stream ${config.name} does not exist`, () => jsm.streams.add(config));
    names.push(config.name);
  }
  return names;
}
