/**
 * The one source of "now" for every time-based decision (expiry, tokens, schedules).
 * Services receive a Clock by injection and never call Date.now() for policy decisions,
 * so tests can move time instead of sleeping.
 */
export abstract class Clock {
  abstract now(): Date;

  nowMs(): number {
    return this.now().getTime();
  }
}

export class SystemClock extends Clock {
  now(): Date {
    return new Date();
  }
}

/**
 * System time plus an offset that tests can move forward (never back, so that
 * monotonic assumptions such as "expiresAt > createdAt" survive a move).
 */
export class ShiftableClock extends Clock {
  private offsetMs = 0;

  now(): Date {
    return new Date(Date.now() + this.offsetMs);
  }

  get offset(): number {
    return this.offsetMs;
  }

  setOffset(offsetMs: number): void {
    if (!Number.isFinite(offsetMs) || offsetMs < this.offsetMs) {
      throw new RangeError('clock offset may only move forward');
    }
    this.offsetMs = offsetMs;
  }

  advance(ms: number): void {
    this.setOffset(this.offsetMs + ms);
  }
}

export const DAY_MS = 24 * 60 * 60 * 1000;

export function addDays(date: Date, days: number): Date {
  return new Date(date.getTime() + days * DAY_MS);
}
