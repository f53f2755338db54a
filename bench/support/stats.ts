/** Numbers and their printing, shared by every bench. */

export const MB = 1024 * 1024;

/** The p-th percentile (0–100) of an ascending array, nearest rank; NaN when empty. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

export const median = (values: number[]): number => percentile([...values].sort((a, b) => a - b), 50);
export const fmt = (value: number, digits = 1): string => (Number.isFinite(value) ? value.toFixed(digits) : 'n/a');
export const pad = (text: string, width: number): string => text.padEnd(width);
export const mb = (bytes: number): string => `${fmt(bytes / MB, 0)} MB`;
