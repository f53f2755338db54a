import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import type { Logger } from '@homiwork/observability';
import { LOGGER } from '@homiwork/service-kit';
import { MediaConfig } from '../config.js';

const WORK_DIR = /^upload-(?:(\d+)-)?/;

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * The private temporary directories (under MEDIA_TMP_DIR) where an upload's original
 * waits while it is transformed. StoreUpload removes each in a `finally`, but a process
 * that is killed or crashes mid-upload leaves its directory — with the original, personal
 * data — behind; so at start media clears every `upload-*` directory no running media
 * process owns. Names carry the owner's pid, so instances sharing one directory on a
 * host never clear each other's uploads; our own pid is ours only from this start on
 * (a container restart reuses pid 1), so at start it counts as stale too.
 */
@Injectable()
export class UploadWorkDirs implements OnModuleInit {
  constructor(
    @Inject(MediaConfig) private readonly config: MediaConfig,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  async onModuleInit(): Promise<void> {
    const cleared = await this.clearStale();
    if (cleared > 0) this.logger.warn({ cleared }, 'stale upload work directories removed at start');
  }

  /** A new owner-only directory for one upload; the caller removes it with `remove`. */
  async create(): Promise<string> {
    await mkdir(this.config.MEDIA_TMP_DIR, { recursive: true, mode: 0o700 });
    return mkdtemp(join(this.config.MEDIA_TMP_DIR, `upload-${process.pid}-`));
  }

  async remove(dir: string): Promise<void> {
    await rm(dir, { recursive: true, force: true });
  }

  /** At start only: removes the work directories left by processes that are gone; returns how many. */
  async clearStale(): Promise<number> {
    const entries = await readdir(this.config.MEDIA_TMP_DIR).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return [];
      throw error;
    });
    let cleared = 0;
    for (const entry of entries) {
      const match = WORK_DIR.exec(entry);
      if (!match) continue;
      const pid = match[1] === undefined ? undefined : Number(match[1]);
      if (pid !== undefined && pid !== process.pid && isRunning(pid)) continue;
      await rm(join(this.config.MEDIA_TMP_DIR, entry), { recursive: true, force: true });
      cleared++;
    }
    return cleared;
  }
}
