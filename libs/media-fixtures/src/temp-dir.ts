import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A fresh private directory for one spec file's fixtures and outputs. */
export function createTempDir(prefix: string): Promise<string> {
  return mkdtemp(join(tmpdir(), `media-${prefix}-`));
}

export function removeTempDir(dir: string | undefined): Promise<void> {
  return dir ? rm(dir, { recursive: true, force: true }) : Promise.resolve();
}
