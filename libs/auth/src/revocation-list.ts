import type { KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { openKvBucket, revocationBucket } from '@homiwork/messaging';

/**
 * Sessions and accounts whose access tokens must stop working before they expire:
 * logout, refresh-token reuse, password reset (per session), deletion and blocking (per
 * account). Identity writes entries; every gateway instance watches the bucket and keeps
 * it in memory, so checking a token costs no round trip. Entries live in a NATS KV
 * bucket whose max age is just above the access-token lifetime: once every token an
 * entry could block has expired, the entry expires too.
 *
 * Migrate creates the bucket (libs/messaging's revocationBucket); the services only open
 * it — their NATS users may not create streams.
 */
export async function openRevocationBucket(nc: NatsConnection, namespace: string, accessTokenTtlSeconds: number): Promise<KV> {
  return openKvBucket(nc, revocationBucket(namespace, accessTokenTtlSeconds));
}

const sessionKey = (sessionId: string): string => `session.${sessionId}`;
const userKey = (userId: string): string => `user.${userId}`;

/** Identity's side: announce revocations. */
export class RevocationWriter {
  constructor(private readonly bucket: KV) {}

  async revokeSessions(sessionIds: readonly string[]): Promise<void> {
    await Promise.all(sessionIds.map((id) => this.bucket.put(sessionKey(id), '1')));
  }

  /** Every token of the account, now and until they expire (deletion, block). */
  async revokeUser(userId: string): Promise<void> {
    await this.bucket.put(userKey(userId), '1');
  }
}

/** The gateway's side: an in-memory mirror kept current by a watch. */
export class RevocationMirror {
  // id → when the entry stops mattering (written + the bucket's max age): the server ages
  // entries out without telling watchers, so the mirror forgets them by itself.
  private readonly sessions = new Map<string, number>();
  private readonly users = new Map<string, number>();
  private maxAgeMs = 0;
  private prune: NodeJS.Timeout | undefined;
  private synced = false;
  private stopWatch: (() => void) | undefined;

  constructor(private readonly bucket: KV) {}

  /** Resolves once the entries existing at start are loaded; updates keep arriving after. */
  async start(): Promise<void> {
    this.maxAgeMs = (await this.bucket.status()).ttl;
    this.prune = setInterval(() => this.forgetExpired(), Math.max(1_000, Math.min(60_000, this.maxAgeMs))).unref();
    const watch = await this.bucket.watch();
    this.stopWatch = () => watch.stop();
    let markInitialDone!: () => void;
    const initial = new Promise<void>((resolve) => (markInitialDone = resolve));
    void (async () => {
      for await (const entry of watch) {
        const [kind, id] = entry.key.split('.', 2) as [string, string];
        const target = kind === 'session' ? this.sessions : kind === 'user' ? this.users : undefined;
        if (entry.operation === 'PUT') target?.set(id, entry.created.getTime() + this.maxAgeMs);
        else target?.delete(id);
        if (!entry.isUpdate && entry.delta === 0) markInitialDone();
      }
    })();
    const status = await this.bucket.status();
    if (status.values === 0) markInitialDone();
    // Entries that aged out between status() and the watch leave delta never reaching 0.
    const fallback = setTimeout(markInitialDone, 3_000);
    await initial;
    clearTimeout(fallback);
    this.synced = true;
  }

  stop(): void {
    clearInterval(this.prune);
    this.stopWatch?.();
  }

  /** How many entries the mirror holds (it must not grow without bound). */
  get size(): number {
    return this.sessions.size + this.users.size;
  }

  get ready(): boolean {
    return this.synced;
  }

  isRevoked(claims: { sub: string; sid: string }): boolean {
    const now = Date.now();
    return (this.users.get(claims.sub) ?? 0) > now || (this.sessions.get(claims.sid) ?? 0) > now;
  }

  private forgetExpired(): void {
    const now = Date.now();
    for (const entries of [this.sessions, this.users]) for (const [id, until] of entries) if (until <= now) entries.delete(id);
  }
}
