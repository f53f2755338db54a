import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ContractorError } from '../contractor.js';
import { runFfmpeg } from './run-ffmpeg.js';

/** Running, as opposed to gone or a zombie waiting for a parent that reaps it. */
async function isRunning(pid: number): Promise<boolean> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

async function waitForFile(path: string, timeoutMs = 5000): Promise<string> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const content = await readFile(path, 'utf8').catch(() => '');
    if (content.trim() !== '') return content;
    if (performance.now() > deadline) throw new Error(`${path} never appeared`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function failure(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (error: unknown) => error,
  );
}

describe('runFfmpeg', () => {
  let dir: string;
  /** Stands in for an ffmpeg stuck in a filter graph: ignores SIGTERM, and has a child of its own. */
  let stubborn: string;
  let pidsFile: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'local-contractor-run-'));
    pidsFile = join(dir, 'pids');
    stubborn = join(dir, 'stubborn-ffmpeg');
    await writeFile(stubborn, `#!/bin/sh\ntrap '' TERM\nsleep 30 &\necho "$$ $!" > ${pidsFile}\nwait\n`);
    await chmod(stubborn, 0o755);
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  const never = new AbortController().signal;

  it('returns stdout and feeds stdin', async () => {
    const output = await runFfmpeg('/bin/cat', { args: [], stdin: Buffer.from('pcm bytes'), timeoutMs: 5000, maxStdoutBytes: 1024, signal: never });
    expect(output.toString()).toBe('pcm bytes');
  });

  it('passes arguments verbatim, with no shell to interpret them', async () => {
    const output = await runFfmpeg('/bin/echo', { args: ['$(id)', '; rm -rf /', '`x`'], timeoutMs: 5000, maxStdoutBytes: 1024, signal: never });
    expect(output.toString()).toBe('$(id) ; rm -rf / `x`\n');
  });

  it('on abort, SIGKILLs the process and its children and rejects with the reason once they are gone', async () => {
    await rm(pidsFile, { force: true });
    const controller = new AbortController();
    const started = performance.now();
    const run = failure(runFfmpeg(stubborn, { args: [], timeoutMs: 60_000, maxStdoutBytes: 1024, signal: controller.signal }));
    const [shell, sleeper] = (await waitForFile(pidsFile)).trim().split(' ').map(Number) as [number, number];
    expect(await isRunning(shell)).toBe(true);
    expect(await isRunning(sleeper)).toBe(true);

    const reason = new Error('job cancelled');
    controller.abort(reason);
    expect(await run).toBe(reason);
    expect(performance.now() - started).toBeLessThan(5000);
    expect(await isRunning(shell)).toBe(false);
    expect(await isRunning(sleeper)).toBe(false);
  });

  it('SIGKILLs a run that outlives its deadline: contractor_timeout', async () => {
    await rm(pidsFile, { force: true });
    const started = performance.now();
    const error = await failure(runFfmpeg(stubborn, { args: [], timeoutMs: 300, maxStdoutBytes: 1024, signal: never }));
    expect(error).toBeInstanceOf(ContractorError);
    expect((error as ContractorError).code).toBe('contractor_timeout');
    expect(performance.now() - started).toBeLessThan(5000);
    const [shell, sleeper] = (await waitForFile(pidsFile)).trim().split(' ').map(Number) as [number, number];
    expect(await isRunning(shell)).toBe(false);
    expect(await isRunning(sleeper)).toBe(false);
  });

  it('does not start anything when the signal is already aborted', async () => {
    const marker = join(dir, 'started');
    const script = join(dir, 'marking-ffmpeg');
    await writeFile(script, `#!/bin/sh\ntouch ${marker}\n`);
    await chmod(script, 0o755);
    const reason = new Error('already cancelled');
    expect(await failure(runFfmpeg(script, { args: [], timeoutMs: 5000, maxStdoutBytes: 1024, signal: AbortSignal.abort(reason) }))).toBe(reason);
    await new Promise((resolve) => setTimeout(resolve, 100));
    await expect(readFile(marker)).rejects.toThrow(/ENOENT/);
  });

  it('kills a process whose output passes the cap: invalid_result', async () => {
    const error = await failure(runFfmpeg('/usr/bin/yes', { args: [], timeoutMs: 5000, maxStdoutBytes: 64 * 1024, signal: never }));
    expect((error as ContractorError).code).toBe('invalid_result');
  });

  it('reports a failing ffmpeg and a missing one as contractor_unavailable, naming neither arguments nor output', async () => {
    const failing = await failure(runFfmpeg('/bin/sh', { args: ['-c', 'echo secret-ish diagnostics >&2; exit 3'], timeoutMs: 5000, maxStdoutBytes: 1024, signal: never }));
    expect(failing).toMatchObject({ code: 'contractor_unavailable', message: 'ffmpeg failed (exit 3)' });
    const missing = await failure(runFfmpeg('/nonexistent/ffmpeg', { args: [], timeoutMs: 5000, maxStdoutBytes: 1024, signal: never }));
    expect(missing).toMatchObject({ code: 'contractor_unavailable', message: 'ffmpeg is not installed' });
  });

  it('does not hand our environment to ffmpeg', async () => {
    process.env.FFREPORT = 'file=/tmp/should-not-be-seen.log';
    try {
      const output = (await runFfmpeg('/usr/bin/env', { args: [], timeoutMs: 5000, maxStdoutBytes: 64 * 1024, signal: never })).toString();
      expect(output).not.toContain('FFREPORT');
      expect(output).toContain('PATH=');
    } finally {
      delete process.env.FFREPORT;
    }
  });
});
