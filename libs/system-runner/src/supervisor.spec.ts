import { describe, expect, it } from 'vitest';
import type { ServiceManifestEntry } from './manifest.js';
import { runtimeEnv } from './supervisor.js';

const entry = (env?: Record<string, string>): ServiceManifestEntry => ({ name: 'media', root: 'services/media', opsPort: 9102, needs: [], ...(env ? { env } : {}) });

describe("a service's run-time settings", () => {
  it('are the manifest entry’s defaults under the environment the system runs with', () => {
    const env = runtimeEnv(entry({ MALLOC_ARENA_MAX: '2', UV_THREADPOOL_SIZE: '2' }), { MALLOC_ARENA_MAX: '8', PATH: '/bin' });
    expect(env).toEqual({ MALLOC_ARENA_MAX: '8', UV_THREADPOOL_SIZE: '2', PATH: '/bin' });
  });

  it('keep the entry’s NODE_OPTIONS when the system adds its own, which come last and so win', () => {
    expect(runtimeEnv(entry({ NODE_OPTIONS: '--max-semi-space-size=4' }), { NODE_OPTIONS: '--inspect' }).NODE_OPTIONS).toBe('--max-semi-space-size=4 --inspect');
    expect(runtimeEnv(entry({ NODE_OPTIONS: '--max-semi-space-size=4' }), {}).NODE_OPTIONS).toBe('--max-semi-space-size=4');
    expect(runtimeEnv(entry(), { NODE_OPTIONS: '--inspect' }).NODE_OPTIONS).toBe('--inspect');
  });
});
