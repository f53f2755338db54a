/**
 * The stand-ins `npm start` runs when no S3 endpoint or SMTP server is configured: an
 * embedded S3-compatible server (s3rver; MinIO in production) and a local mail sink with
 * an HTTP API. A process of their own, so the supervisor stays small and their memory is
 * measured apart. Prints one JSON line with the URLs, then serves until SIGTERM.
 */
import { chmodSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { startMailSink } from '@homiwork/mail/sink';
import { startLocalS3 } from '@homiwork/storage/local';

const runDir = process.env.RUN_DIR ?? '.run';
const stops: Array<() => Promise<void>> = [];
const urls: Record<string, string> = {};
if (process.env.WANT_S3 === '1') {
  const directory = join(runDir, 's3');
  // Users' transformed files: owner-only, also when the directory existed already.
  mkdirSync(directory, { recursive: true, mode: 0o700 });
  chmodSync(directory, 0o700);
  const s3 = await startLocalS3({ directory, port: Number(process.env.LOCAL_S3_PORT ?? 9000) });
  urls.S3_URL = s3.url;
  urls.S3_BUCKET = s3.config.bucket;
  stops.push(() => s3.stop());
}
if (process.env.WANT_SMTP === '1') {
  const sink = await startMailSink({ smtpPort: Number(process.env.LOCAL_SMTP_PORT ?? 1025), httpPort: Number(process.env.LOCAL_MAIL_API_PORT ?? 8025) });
  urls.SMTP_URL = sink.smtpUrl;
  urls.MAIL_API_URL = sink.apiUrl;
  stops.push(() => sink.stop());
}
process.stdout.write(`${JSON.stringify({ ready: urls })}\n`);
const stop = async (): Promise<void> => {
  for (const close of stops) await close().catch(() => undefined);
  process.exit(0);
};
process.on('SIGTERM', () => void stop());
process.on('SIGINT', () => void stop());
