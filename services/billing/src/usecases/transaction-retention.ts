/**
 * §5.7: a transaction record is kept for TRANSACTION_RETENTION_YEARS (at least 5) after it
 * was created, and after it was paid when that is later; then the scheduled purge deletes
 * it. Calendar years in UTC (29 February rolls to 1 March).
 */
export function retainUntil(from: Date, years: number): Date {
  const until = new Date(from.getTime());
  until.setUTCFullYear(until.getUTCFullYear() + years);
  return until;
}
