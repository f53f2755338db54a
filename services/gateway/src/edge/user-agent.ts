import Bowser from 'bowser';

/**
 * The coarse device description kept with security events (§2.1.4 "general technical
 * request headers"): browser and OS family only — no versions, no device model, nothing
 * that narrows a fingerprint.
 */
export function coarseUserAgent(userAgent: string | undefined): string | null {
  if (!userAgent) return null;
  const parsed = Bowser.parse(userAgent.slice(0, 512));
  const browser = parsed.browser.name || 'unknown browser';
  const os = parsed.os.name || 'unknown OS';
  return `${browser} on ${os}`.slice(0, 64);
}
