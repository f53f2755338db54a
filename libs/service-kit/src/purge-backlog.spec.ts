import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger, ServiceMetrics } from '@homiwork/observability';
import { registerPurgeBacklog } from './purge-backlog.js';

const backlogOf = async (metrics: ServiceMetrics, kind: string): Promise<number | undefined> =>
  (await metrics.registry.getSingleMetric('purge_backlog_items')!.get()).values.find((value) => value.labels.kind === kind)?.value;

describe('registerPurgeBacklog', () => {
  it('counts at each scrape, keeps the last value while the count fails and says so once per outage', async () => {
    const lines: string[] = [];
    const logger = createLogger({ service: 'purge-backlog-test', level: 'info', destination: new Writable({ write: (chunk: Buffer, _encoding, done) => (lines.push(chunk.toString()), done()) }) });
    const metrics = new ServiceMetrics('purge-backlog-test');
    let stored = 3;
    let databaseAway = false;
    registerPurgeBacklog(metrics, logger, {
      upload: () => (databaseAway ? Promise.reject(new Error('connection refused')) : Promise.resolve(stored)),
    });
    expect(await backlogOf(metrics, 'upload')).toBe(3);
    stored = 0;
    expect(await backlogOf(metrics, 'upload')).toBe(0);
    stored = 7;
    databaseAway = true;
    expect(await backlogOf(metrics, 'upload')).toBe(0);
    expect(await backlogOf(metrics, 'upload')).toBe(0);
    expect(lines.filter((line) => line.includes('purge backlog count unavailable'))).toHaveLength(1);
    databaseAway = false;
    expect(await backlogOf(metrics, 'upload')).toBe(7);
  });

});
