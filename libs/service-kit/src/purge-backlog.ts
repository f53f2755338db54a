import type { Gauge } from 'prom-client';
import type { Logger, ServiceMetrics } from '@homiwork/observability';

/** How many items of one kind are past their deletion time and still stored (no user is named). */
export type BacklogCount = () => Promise<number>;

/**
 * `purge_backlog_items{kind}`: items of a data-owning service past the time the policy
 * deletes them and still stored — what retention's events and the service's own sweep
 * have yet to take (users under a legal hold included: they wait on purpose). Counted in
 * the database when scraped, so every instance reports the same shared truth; a count
 * that fails keeps the last value (the readiness check reports the database) and is
 * logged once per outage. Every kind has its series (0) from registration on.
 */
export function registerPurgeBacklog(metrics: ServiceMetrics, logger: Logger, counts: Readonly<Record<string, BacklogCount>>): Gauge<'kind'> {
  let warned = false;
  const gauge: Gauge<'kind'> = metrics.gauge({
    name: 'purge_backlog_items',
    help: 'Items past their deletion time not yet deleted, by kind, read from the database',
    labelNames: ['kind'] as const,
    async collect() {
      for (const [kind, count] of Object.entries(counts)) {
        try {
          this.set({ kind }, await count());
          warned = false;
        } catch (error) {
          if (!warned) logger.warn({ err: error, kind }, 'purge backlog count unavailable');
          warned = true;
        }
      }
    },
  });
  for (const kind of Object.keys(counts)) gauge.set({ kind }, 0);
  return gauge;
}
