import { describe, expect, it } from 'vitest';
import { DATA_OWNING_SERVICES, EXPORT_SLICE_ROUTES } from '@homiwork/contracts';
import { erasureServices, SERVICE_MANIFEST } from './manifest.js';

describe('the services that hold user data (manifest `holdsUserData`)', () => {
  it('are the ones every erasure expects a receipt from, and each but retention answers an export slice', () => {
    const holding = erasureServices().split(',');
    expect(holding).toEqual(SERVICE_MANIFEST.filter((entry) => entry.holdsUserData).map((entry) => entry.name));
    expect([...holding].sort()).toEqual([...DATA_OWNING_SERVICES].sort());
    expect(Object.keys(EXPORT_SLICE_ROUTES).sort()).toEqual(holding.filter((name) => name !== 'retention').sort());
  });
});
