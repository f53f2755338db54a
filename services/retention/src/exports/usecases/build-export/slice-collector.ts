import { randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { exportSliceRoute, type ExportSlicePage, type ServiceName } from '@homiwork/contracts';
import { RpcClient } from '@homiwork/messaging';
import { RetentionConfig } from '../../../config.js';

/** Pages one service may answer for one user before it is taken for a loop (at ~256 KB a page, 1 GB of JSON). */
const MAX_PAGES = 4_000;

export interface CollectedSlice {
  service: ServiceName;
  collections: Record<string, Array<Record<string, unknown>>>;
  files: ExportSlicePage['files'];
}

/**
 * Each data-owning service's slice of the user (R7.1) over NATS — the services of the
 * manifest (ERASURE_SERVICES) but retention, which adds its own — paged by `cursor` until
 * `nextCursor` is null, collections of several pages joined. Any service not answering
 * fails the whole collection: an archive never leaves a service out silently.
 */
@Injectable()
export class SliceCollector {
  constructor(
    private readonly rpc: RpcClient,
    @Inject(RetentionConfig) private readonly config: RetentionConfig,
  ) {}

  services(): ServiceName[] {
    return this.config.ERASURE_SERVICES.filter((service) => service !== 'retention');
  }

  async collect(userId: string): Promise<CollectedSlice[]> {
    const slices: CollectedSlice[] = [];
    for (const service of this.services()) slices.push(await this.collectOne(service, userId));
    return slices;
  }

  private async collectOne(service: ServiceName, userId: string): Promise<CollectedSlice> {
    const route = exportSliceRoute(service);
    const slice: CollectedSlice = { service, collections: {}, files: [] };
    let cursor: string | undefined;
    for (let page = 0; page < MAX_PAGES; page++) {
      const answer = await this.rpc.call(route, cursor === undefined ? { userId } : { userId, cursor }, { requestId: randomUUID() });
      for (const [name, records] of Object.entries(answer.collections)) (slice.collections[name] ??= []).push(...records);
      slice.files.push(...answer.files);
      if (answer.nextCursor === null) return slice;
      cursor = answer.nextCursor;
    }
    throw new Error(`the ${service} export slice did not end within ${MAX_PAGES} pages`);
  }
}
