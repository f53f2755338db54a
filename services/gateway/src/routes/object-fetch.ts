import { GatewayError, GatewayErrors } from '../errors/gateway-error.js';

const storeUnavailable = () => new GatewayError(503, 'service_unavailable', 'the content store is unavailable; try again shortly', 5);

/**
 * The object behind a signed URL. Redirects are not followed (a signed URL names the
 * object itself), the wait for the answer is bounded but the transfer is not (a video to
 * a slow client may take a while), and an object gone between the record and the read
 * (final removal) is the 404 of an unknown id.
 */
export async function fetchObject(url: string, headersTimeoutMs: number): Promise<Response & { body: ReadableStream<Uint8Array> }> {
  const headersDue = new AbortController();
  const timer = setTimeout(() => headersDue.abort(), headersTimeoutMs);
  let answer: Response;
  try {
    answer = await fetch(url, { redirect: 'error', signal: headersDue.signal });
  } catch {
    throw storeUnavailable();
  } finally {
    clearTimeout(timer);
  }
  if (answer.status === 404) {
    await answer.body?.cancel();
    throw GatewayErrors.notFound();
  }
  if (answer.status !== 200 || !answer.body) {
    await answer.body?.cancel();
    throw storeUnavailable();
  }
  return answer as Response & { body: ReadableStream<Uint8Array> };
}
