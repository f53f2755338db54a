import { describe, expect, it } from 'vitest';
import { catalogued, labelAllowed } from '@homiwork/observability';
import type { AdapterName } from './contractor/contractor-config.js';
import { JOB_FAILURES } from './domain/job-state.js';

describe('generation metrics and the metric catalogue', () => {
  it('allows every outcome a job can end with and every adapter, so a new failure code is added to the catalogue too', () => {
    const jobs = catalogued('generation_jobs_total')!;
    for (const outcome of ['succeeded', ...Object.keys(JOB_FAILURES)]) expect(labelAllowed(jobs.labels.outcome!, outcome), outcome).toBe(true);
    for (const adapter of ['local', 'http'] satisfies AdapterName[]) expect(labelAllowed(jobs.labels.adapter!, adapter), adapter).toBe(true);
    expect(labelAllowed(jobs.labels.outcome!, 'failed')).toBe(false);
  });
});
