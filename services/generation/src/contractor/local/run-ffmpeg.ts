import { spawn } from 'node:child_process';
import { ContractorError } from '../contractor.js';

export interface FfmpegRun {
  readonly args: readonly string[];
  /** Written to ffmpeg's stdin (raw PCM), then stdin is closed. */
  readonly stdin?: Buffer;
  /** At the deadline the process group is SIGKILLed and the run fails with `contractor_timeout`. */
  readonly timeoutMs: number;
  /** More on stdout than this kills the process: a local result is small, a flood is a bug. */
  readonly maxStdoutBytes: number;
  readonly signal: AbortSignal;
}

/**
 * Runs ffmpeg without a shell, with a minimal environment (no FFREPORT or similar switch of
 * ours reaches it) in its own process group, and resolves with its stdout once it has
 * exited. Abort and deadline SIGKILL the whole group — not a polite SIGTERM that an encoder
 * busy in a filter graph may take seconds to honour — and the promise settles only after
 * the process is gone, so a caller's `finally` can remove the files it was writing.
 * On abort it rejects with the signal's reason, as `fetch` does.
 */
export function runFfmpeg(ffmpegPath: string, run: FfmpegRun): Promise<Buffer> {
  if (run.signal.aborted) return Promise.reject(run.signal.reason as Error);
  return new Promise((resolve, reject) => {
    const child = spawn(ffmpegPath, run.args, {
      shell: false,
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LC_ALL: 'C' },
      detached: true,
      windowsHide: true,
    });
    const killGroup = () => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    };
    let timedOut = false;
    let overflowed = false;
    const stdout: Buffer[] = [];
    let stdoutBytes = 0;
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup();
    }, run.timeoutMs);
    run.signal.addEventListener('abort', killGroup, { once: true });
    const settle = () => {
      clearTimeout(timer);
      run.signal.removeEventListener('abort', killGroup);
    };

    child.stdout.on('data', (chunk: Buffer) => {
      stdoutBytes += chunk.length;
      if (stdoutBytes > run.maxStdoutBytes) {
        if (!overflowed) killGroup();
        overflowed = true;
        return;
      }
      stdout.push(chunk);
    });
    // Drained and dropped: ffmpeg runs at `-loglevel error`, and what it says about our own
    // arguments is no use to the user whose job failed.
    child.stderr.resume();
    // ffmpeg closing its stdin early (it failed, or was killed) is reported by the exit code.
    child.stdin.on('error', () => undefined);
    // Without input of ours, stdin is closed at once, so ffmpeg can never wait on it.
    if (run.stdin === undefined) child.stdin.end();
    else child.stdin.end(run.stdin);
    child.on('error', (error: NodeJS.ErrnoException) => {
      settle();
      reject(new ContractorError('contractor_unavailable', error.code === 'ENOENT' ? 'ffmpeg is not installed' : 'ffmpeg could not be started'));
    });
    child.on('close', (exitCode) => {
      settle();
      if (run.signal.aborted) reject(run.signal.reason as Error);
      else if (timedOut) reject(new ContractorError('contractor_timeout', `The local contractor ran out of time (${run.timeoutMs} ms)`));
      else if (overflowed) reject(new ContractorError('invalid_result', 'The local contractor produced more output than allowed'));
      else if (exitCode !== 0) reject(new ContractorError('contractor_unavailable', `ffmpeg failed (exit ${exitCode ?? 'by signal'})`));
      else resolve(Buffer.concat(stdout));
    });
  });
}
