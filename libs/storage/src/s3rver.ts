import type { Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';

// s3rver ships no types. It is loaded through require with the few parts local-s3.ts
// uses typed here, rather than by an ambient module declaration, which every tsconfig
// that reaches this library would have to include.

export interface S3rverOptions {
  address?: string;
  port?: number;
  silent?: boolean;
  directory?: string;
  configureBuckets?: { name: string; configs?: (string | Buffer)[] }[];
}

/** The part of a Koa context the local middleware reads and writes. */
export interface S3rverContext {
  method: string;
  url: string;
  path: string;
  query: Record<string, string | string[] | undefined>;
  type: string;
  body: unknown;
}

export type S3rverMiddleware = (ctx: S3rverContext, next: () => Promise<void>) => Promise<void>;

export interface S3rverFilesystemStore {
  getBucketPath(bucket: string): string;
  getResourcePath(bucket: string, key: string, resource: string): string;
  deleteObject(bucket: string, key: string): Promise<void>;
}

export interface S3rverServer {
  /** Koa's middleware list, composed when the server starts listening. */
  middleware: S3rverMiddleware[];
  store: S3rverFilesystemStore;
  httpServer?: Server;
  run(): Promise<AddressInfo>;
  close(): Promise<void>;
}

/** Loaded on first use, so services that only talk to a real S3 never load s3rver and Koa. */
export function loadS3rver(): new (options: S3rverOptions) => S3rverServer {
  return createRequire(import.meta.url)('s3rver') as new (options: S3rverOptions) => S3rverServer;
}
