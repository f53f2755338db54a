/** Where the S3-compatible store is and which bucket this process uses. */
export interface StorageConfig {
  endPoint: string;
  port: number;
  useSSL: boolean;
  accessKey: string;
  secretKey: string;
  bucket: string;
  /** Omit to let the client ask the server (one extra request); MinIO and s3rver use us-east-1. */
  region?: string;
}

// S3's bucket naming rules (lowercase, 3-63 chars, no leading/trailing dot or dash).
const BUCKET_NAME = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const REGION = /^[a-z0-9-]{1,32}$/;

export function assertBucketName(bucket: string): void {
  if (!BUCKET_NAME.test(bucket) || bucket.includes('..')) {
    throw new TypeError('bucket name must be 3-63 lowercase letters, digits, dots or dashes');
  }
}

/** Credentials given apart from the URL (e.g. `S3_ACCESS_KEY` / `S3_SECRET_KEY`). */
export interface S3Credentials {
  accessKey?: string | undefined;
  secretKey?: string | undefined;
}

/**
 * Reads `http(s)://[ACCESS:SECRET@]host:port[?region=...]`. Credentials given apart take
 * precedence over those in the URL (a deployment keeps the secret out of the URL it
 * composes, as docker-compose.yml does); empty ones count as not given. Either way both
 * keys must end up set. Error messages never repeat the URL, because it may carry the
 * secret key.
 */
export function parseS3Url(url: string, bucket: string, credentials: S3Credentials = {}): StorageConfig {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new TypeError('S3 URL is not a valid URL');
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new TypeError('S3 URL must use http or https');
  }
  if (parsed.pathname !== '/' && parsed.pathname !== '') {
    throw new TypeError('S3 URL must not have a path; the bucket is configured separately');
  }
  const accessKey = nonEmpty(credentials.accessKey) ?? decodeURIComponent(parsed.username);
  const secretKey = nonEmpty(credentials.secretKey) ?? decodeURIComponent(parsed.password);
  if (accessKey === '' || secretKey === '') {
    throw new TypeError('S3 credentials are missing: put ACCESS:SECRET in the URL or give the access and secret keys apart');
  }
  assertBucketName(bucket);
  const useSSL = parsed.protocol === 'https:';
  const region = parsed.searchParams.get('region') ?? undefined;
  if (region !== undefined && !REGION.test(region)) {
    throw new TypeError('S3 URL region is malformed');
  }
  return {
    // URL keeps IPv6 hosts in brackets; the S3 client wants the bare address.
    endPoint: parsed.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: parsed.port === '' ? (useSSL ? 443 : 80) : Number(parsed.port),
    useSSL,
    accessKey,
    secretKey,
    bucket,
    ...(region === undefined ? {} : { region }),
  };
}

const nonEmpty = (value: string | undefined): string | undefined => (value === undefined || value === '' ? undefined : value);
