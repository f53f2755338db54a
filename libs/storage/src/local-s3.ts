import { mkdtemp, rm, rmdir, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadS3rver, type S3rverMiddleware, type S3rverServer } from './s3rver.js';
import { assertBucketName, parseS3Url, type StorageConfig } from './storage-config.js';

// s3rver's built-in account. It checks the access key but not V4 signatures, so a local
// store proves requests are well-formed, not that signing is right.
const ACCESS_KEY = 'S3RVER';
const SECRET_KEY = 'S3RVER';
const DEFAULT_BUCKET = 'homiwork';

export interface LocalS3Options {
  /** 0 (the default) picks a free port. */
  port?: number;
  /** Kept on stop. Without one, a temporary directory is made and removed on stop. */
  directory?: string;
  /** Created at start; `homiwork` by default. */
  bucket?: string;
  /** Sees every request before the server does (tests count requests with it). */
  onRequest?: (request: { method: string; url: string }) => void;
}

export interface LocalS3 {
  /** `http://S3RVER:S3RVER@127.0.0.1:<port>`, the form parseS3Url reads. */
  url: string;
  config: StorageConfig;
  /** Where the objects are kept; a temporary one unless given. */
  directory: string;
  stop(): Promise<void>;
}

/**
 * An S3-compatible server in this process, on 127.0.0.1 only: the embedded store of
 * `npm start` when no S3 endpoint is configured, and the real server tests talk to
 * (there is no MinIO binary or Docker on this machine). A gap of s3rver's that the minio
 * client trips over, and its slow and racy delete, are bridged here; see below.
 */
export async function startLocalS3(options: LocalS3Options = {}): Promise<LocalS3> {
  const bucket = options.bucket ?? DEFAULT_BUCKET;
  assertBucketName(bucket);
  const ownsDirectory = options.directory === undefined;
  const directory = options.directory ?? (await mkdtemp(join(tmpdir(), 'homiwork-s3-')));
  const removeDirectory = async (): Promise<void> => {
    if (ownsDirectory) await rm(directory, { recursive: true, force: true });
  };

  const S3rver = loadS3rver();
  const server = new S3rver({
    address: '127.0.0.1',
    port: options.port ?? 0,
    silent: true,
    directory,
    configureBuckets: [{ name: bucket }],
  });
  deleteWithoutDirectoryScans(server);
  // Koa composes its middleware list when the server starts, so this runs first.
  server.middleware.unshift(localMiddleware(options.onRequest));

  let port: number;
  try {
    ({ port } = await server.run());
  } catch (error) {
    await removeDirectory();
    throw error;
  }

  const url = `http://${ACCESS_KEY}:${SECRET_KEY}@127.0.0.1:${port}`;
  let stopping: Promise<void> | undefined;
  return {
    url,
    config: { ...parseS3Url(url, bucket), region: 'us-east-1' },
    directory,
    stop: () =>
      (stopping ??= (async () => {
        const closed = server.close();
        // Keep-alive sockets would otherwise hold close() open until they time out.
        server.httpServer?.closeAllConnections();
        await closed;
        await removeDirectory();
      })()),
  };
}

/**
 * s3rver has no ListMultipartUploads (`GET /bucket?uploads` answers NotImplemented), and
 * the minio client asks it before every multipart upload to resume an unfinished one.
 * Answering "none in progress" lets large and unknown-length streams upload part by
 * part here as they do on MinIO; the client then simply starts a new upload.
 */
function localMiddleware(onRequest: LocalS3Options['onRequest']): S3rverMiddleware {
  return async (ctx, next) => {
    onRequest?.({ method: ctx.method, url: ctx.url });
    if (ctx.method === 'GET' && 'uploads' in ctx.query && /^\/[^/]+\/?$/.test(ctx.path)) {
      ctx.type = 'application/xml';
      ctx.body =
        '<?xml version="1.0" encoding="UTF-8"?>\n' +
        '<ListMultipartUploadsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">' +
        '<IsTruncated>false</IsTruncated></ListMultipartUploadsResult>';
      return;
    }
    await next();
  };
}

/**
 * s3rver's own deleteObject, after unlinking an object's files, lists each parent
 * directory (readdirSync) to remove the empty ones. That is slow (erasing 1,000 keys from
 * one directory read it 1,000 times: seconds per request) and racy: DeleteObjects deletes
 * its keys concurrently, so one delete's readdir finds a directory another just removed
 * and the whole request answers 500. This version lets rmdir decide instead: it refuses
 * a non-empty directory, which ends the walk up, and a directory already gone is fine.
 */
function deleteWithoutDirectoryScans(server: S3rverServer): void {
  const store = server.store;
  store.deleteObject = async (bucket, key) => {
    await Promise.all(
      ['object', 'object.md5', 'metadata.json'].map((resource) =>
        unlink(store.getResourcePath(bucket, key, resource)).catch(ignoreCodes('ENOENT')),
      ),
    );
    const directories = key.split('/').slice(0, -1);
    while (directories.length > 0) {
      const removed = await rmdir(join(store.getBucketPath(bucket), ...directories)).then(
        () => true,
        (error: unknown) => {
          const code = (error as { code?: unknown }).code;
          if (code === 'ENOENT') return true;
          if (code === 'ENOTEMPTY' || code === 'EEXIST') return false;
          throw error;
        },
      );
      if (!removed) return;
      directories.pop();
    }
  };
}

function ignoreCodes(...codes: string[]): (error: unknown) => void {
  return (error) => {
    if (!codes.includes(String((error as { code?: unknown }).code))) throw error;
  };
}
