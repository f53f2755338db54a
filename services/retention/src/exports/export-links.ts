import { Inject, Injectable } from '@nestjs/common';
import { Clock } from '@homiwork/clock';
import { DataKeyError, UserDataKeys } from '@homiwork/data-keys';
import { RetentionConfig } from '../config.js';
import { ExportsRepository } from './persistence/exports.repository.js';

/**
 * The download link of a ready export while it lives:
 * `${PUBLIC_API_URL}/v1/privacy/exports/<exportId>?token=<token>`. The token is kept
 * sealed with the user's data key (its hash is what a download is checked against), so
 * the link can be shown again on every read of the request — and never once the user's
 * key is destroyed.
 */
@Injectable()
export class ExportLinks {
  constructor(
    private readonly exports: ExportsRepository,
    private readonly keys: UserDataKeys,
    @Inject(RetentionConfig) private readonly config: RetentionConfig,
    @Inject(Clock) private readonly clock: Clock,
  ) {}

  async linkOf(userId: string, exportId: string): Promise<{ url: string; expiresAt: Date } | undefined> {
    const ready = await this.exports.findReady(exportId);
    if (!ready || ready.userId !== userId || ready.expiresAt.getTime() <= this.clock.now().getTime()) return undefined;
    let token: string;
    try {
      token = await this.keys.open(userId, ready.sealedToken);
    } catch (error) {
      if (error instanceof DataKeyError) return undefined;
      throw error;
    }
    const url = new URL(`/v1/privacy/exports/${exportId}`, this.config.PUBLIC_API_URL);
    url.searchParams.set('token', token);
    return { url: url.toString(), expiresAt: ready.expiresAt };
  }
}
