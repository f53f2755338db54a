import { describe, expect, it } from 'vitest';
import { runProcess } from './run-process.js';

describe('runProcess', () => {
  it('returns exit code, stdout and the stderr tail', async () => {
    const outcome = await runProcess('/bin/sh', ['-c', 'printf out; printf err >&2; exit 3'], { timeoutMs: 5000 });
    expect(outcome).toEqual({ exitCode: 3, stdout: 'out', stderrTail: 'err', timedOut: false, overflowed: false });
  });

  it('passes arguments verbatim, with no shell to interpret them', async () => {
    const outcome = await runProcess('/bin/echo', ['$(id)', '; rm -rf /', '`x`'], { timeoutMs: 5000 });
    expect(outcome.stdout).toBe('$(id) ; rm -rf / `x`\n');
  });

  it('SIGKILLs a process that outlives its deadline', async () => {
    const started = performance.now();
    // `trap '' TERM` ignores a polite stop; only SIGKILL ends it early.
    const outcome = await runProcess('/bin/sh', ['-c', "trap '' TERM; sleep 10"], { timeoutMs: 200 });
    expect(outcome.timedOut).toBe(true);
    expect(outcome.exitCode).toBeNull();
    expect(performance.now() - started).toBeLessThan(3000);
  });

  it('kills a process whose output passes the cap', async () => {
    const outcome = await runProcess('/bin/sh', ['-c', 'yes'], { timeoutMs: 5000, maxStdoutBytes: 64 * 1024 });
    expect(outcome.overflowed).toBe(true);
    expect(outcome.stdout.length).toBeLessThanOrEqual(64 * 1024);
  });

  it('does not hand our environment to the child', async () => {
    process.env.FFREPORT = 'file=/tmp/should-not-be-seen.log';
    try {
      const outcome = await runProcess('/usr/bin/env', [], { timeoutMs: 5000 });
      expect(outcome.stdout).not.toContain('FFREPORT');
      expect(outcome.stdout).toContain('PATH=');
    } finally {
      delete process.env.FFREPORT;
    }
  });

  it('rejects when the program does not exist (a deployment error, not a user error)', async () => {
    await expect(runProcess('/nonexistent/ffmpeg', [], { timeoutMs: 1000 })).rejects.toThrow(/ENOENT/);
  });
});
