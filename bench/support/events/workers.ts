/** The bench's side of its worker processes: start, talk, wait, stop — and kill on failure. */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { FromWorker, ToWorker, WorkerSettings } from './protocol.js';

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
const workerScript = fileURLToPath(new URL('./worker.ts', import.meta.url));

type Kind = FromWorker['kind'];
type MessageOf<K extends Kind> = Extract<FromWorker, { kind: K }>;

export class Worker {
  /** Inspector WebSocket URL, when started with `inspect`. */
  inspectorUrl: string | undefined;
  private failure: Error | undefined;
  private readonly waiters = new Set<{ kind: Kind; resolve: (message: FromWorker) => void; reject: (error: Error) => void }>();
  private readonly listeners: Array<(message: FromWorker) => void> = [];
  private readonly exited: Promise<void>;
  private rejectFailed: ((error: Error) => void) | undefined;
  /** Rejects when the worker reports an error or exits; race it against what waits on other workers. */
  readonly failed = new Promise<never>((_resolve, reject) => (this.rejectFailed = reject));

  private constructor(
    readonly name: string,
    private readonly child: ChildProcess,
  ) {
    this.failed.catch(() => undefined); // nobody may be racing it when it happens
    child.on('message', (message: FromWorker) => {
      if (message.kind === 'error') return this.fail(new Error(`${name} failed: ${message.message}`));
      for (const listener of this.listeners) listener(message);
      for (const waiter of this.waiters) {
        if (waiter.kind !== message.kind) continue;
        this.waiters.delete(waiter);
        waiter.resolve(message);
        break;
      }
    });
    this.exited = new Promise((resolve) =>
      child.once('exit', (code, signal) => {
        this.fail(new Error(`${name} exited (${signal ?? code})`));
        resolve();
      }),
    );
  }

  /** Starts a worker with the repo's Node and the swc loader, and waits for it to be ready. */
  static async start(settings: WorkerSettings, options: { inspect: boolean; timeoutMs: number }): Promise<Worker> {
    const child = spawn(process.execPath, ['--import', '@swc-node/register/esm-register', ...(options.inspect ? ['--inspect=127.0.0.1:0'] : []), workerScript], {
      cwd: repoRoot,
      env: { ...process.env, NODE_ENV: 'production', BENCH_WORKER: JSON.stringify(settings) },
      stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
    });
    const worker = new Worker(settings.name, child);
    createInterface({ input: child.stderr! }).on('line', (line) => {
      const inspector = /Debugger listening on (ws:\/\/\S+)/.exec(line);
      if (inspector) worker.inspectorUrl = inspector[1];
      else if (!line.startsWith('For help, see') && !line.startsWith('Debugger attached')) process.stderr.write(`[${settings.name}] ${line}\n`);
    });
    try {
      await worker.next('ready', options.timeoutMs);
    } catch (error) {
      worker.kill();
      throw error;
    }
    return worker;
  }

  get pid(): number[] {
    return this.child.pid && this.child.exitCode === null ? [this.child.pid] : [];
  }

  send(message: ToWorker): void {
    if (this.failure) throw this.failure;
    this.child.send(message);
  }

  /** Called with every message (but errors) from now on. */
  onMessage(listener: (message: FromWorker) => void): void {
    this.listeners.push(listener);
  }

  /** The next message of `kind`; call before causing it. Rejects when the worker fails or exits first. */
  next<K extends Kind>(kind: K, timeoutMs: number): Promise<MessageOf<K>> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise<MessageOf<K>>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${this.name} to report ${kind}`));
      }, timeoutMs);
      const waiter = {
        kind,
        resolve: (message: FromWorker) => {
          clearTimeout(timer);
          resolve(message as MessageOf<K>);
        },
        reject: (error: Error) => {
          clearTimeout(timer);
          reject(error);
        },
      };
      this.waiters.add(waiter);
    });
  }

  /** Asks the worker to stop cleanly; kills it when it has not exited within `graceMs`. */
  async stop(graceMs = 10_000): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.failure ??= new Error(`${this.name} was stopped`);
    if (this.child.connected) this.child.send({ kind: 'stop' } satisfies ToWorker);
    const timer = setTimeout(() => this.kill(), graceMs);
    await this.exited;
    clearTimeout(timer);
  }

  kill(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  }

  private fail(error: Error): void {
    this.failure ??= error;
    this.rejectFailed?.(this.failure);
    for (const waiter of this.waiters) waiter.reject(this.failure);
    this.waiters.clear();
  }
}
