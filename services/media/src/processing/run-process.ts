import { spawn } from 'node:child_process';

export interface ProcessOutcome {
  exitCode: number | null;
  stdout: string;
  /** The tail of stderr only: enough for one diagnostic line, never the whole log. */
  stderrTail: string;
  timedOut: boolean;
  /** stdout passed `maxStdoutBytes`; the process was killed. */
  overflowed: boolean;
}

export interface RunOptions {
  timeoutMs: number;
  maxStdoutBytes?: number;
}

const STDERR_TAIL_BYTES = 4096;

/**
 * Runs a program without a shell (arguments are never parsed by one), with no stdin, a
 * minimal environment (no FFREPORT or similar switch can reach ffmpeg from ours), and a
 * hard deadline: at the deadline the process and its descendants are SIGKILLed, not asked
 * to stop.
 */
export function runProcess(command: string, args: readonly string[], options: RunOptions): Promise<ProcessOutcome> {
  const maxStdout = options.maxStdoutBytes ?? 1024 * 1024;
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      shell: false,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LC_ALL: 'C' },
      // Its own process group, so a kill reaches whatever it started too; otherwise a
      // grandchild holding the pipes open would keep us waiting past the deadline.
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
    const stdout: Buffer[] = [];
    let stdoutBytes = 0;
    let stderr = Buffer.alloc(0);
    let timedOut = false;
    let overflowed = false;

    const timer = setTimeout(() => {
      timedOut = true;
      killGroup();
    }, options.timeoutMs);

    child.stdout.on('data', (chunk: Buffer) => {
      stdoutBytes += chunk.length;
      if (stdoutBytes > maxStdout) {
        if (!overflowed) killGroup();
        overflowed = true;
        return;
      }
      stdout.push(chunk);
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr = Buffer.concat([stderr, chunk]);
      if (stderr.length > STDERR_TAIL_BYTES) stderr = stderr.subarray(stderr.length - STDERR_TAIL_BYTES);
    });
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (exitCode) => {
      clearTimeout(timer);
      resolve({ exitCode, stdout: Buffer.concat(stdout).toString('utf8'), stderrTail: stderr.toString('utf8'), timedOut, overflowed });
    });
  });
}
