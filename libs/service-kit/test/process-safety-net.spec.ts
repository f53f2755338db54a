import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from '@homiwork/observability';
import { installProcessSafetyNet } from '../src/index.js';

function capturingLogger() {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      callback();
    },
  });
  return { lines, logger: createLogger({ service: 'safety-net-test', level: 'info', destination }) };
}

describe('the process safety net', () => {
  it('logs an unhandled rejection scrubbed, counts it, and keeps the process', () => {
    const { lines, logger } = capturingLogger();
    const caught: string[] = [];
    const exits: number[] = [];
    let shutdowns = 0;
    const before = process.listenerCount('unhandledRejection');
    const net = installProcessSafetyNet({ logger, shutdown: () => Promise.resolve(void shutdowns++), onCaught: (kind) => caught.push(kind), exit: (code) => exits.push(code) });
    try {
      expect(process.listenerCount('unhandledRejection')).toBe(before + 1);
      net.onUnhandledRejection(new Error('lookup failed for grace@example.com'));
      net.onUnhandledRejection('a string, not an error');
    } finally {
      net.uninstall();
    }
    expect(process.listenerCount('unhandledRejection')).toBe(before);
    expect(caught).toEqual(['unhandled_rejection', 'unhandled_rejection']);
    expect(exits).toEqual([]);
    expect(shutdowns).toBe(0);
    expect(lines.filter((line) => line.includes('unhandled promise rejection'))).toHaveLength(2);
    expect(lines.join('\n')).not.toContain('grace@example.com');
  });

  it('closes the service and exits 1 after an uncaught exception, once, even if another one follows', async () => {
    const { lines, logger } = capturingLogger();
    const exits: number[] = [];
    let shutdowns = 0;
    const net = installProcessSafetyNet({ logger, shutdown: () => Promise.resolve(void shutdowns++), exit: (code) => exits.push(code) });
    try {
      net.onUncaughtException(new Error('half-written state for heidi@example.com'));
      net.onUncaughtException(new Error('again'));
      await new Promise((resolve) => setImmediate(resolve));
    } finally {
      net.uninstall();
    }
    expect(shutdowns).toBe(1);
    expect(exits).toEqual([1]);
    expect(lines.filter((line) => line.includes('uncaught exception'))).toHaveLength(2);
    expect(lines.join('\n')).not.toContain('heidi@example.com');
  });
});
