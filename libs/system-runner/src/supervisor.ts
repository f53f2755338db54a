import { compiledMain, type ServiceManifestEntry } from './manifest.js';
import { launchService, type LaunchedService } from './launch.js';

export interface InstancePorts {
  opsPort: number;
  publicPort?: number;
}

export interface SupervisorOptions {
  manifest: readonly ServiceManifestEntry[];
  /** The environment every service gets (secrets, database, NATS, namespace…). */
  env: NodeJS.ProcessEnv;
  /** Settings for one service only, over `env` (its own NATS user and password). */
  serviceEnv?(entry: ServiceManifestEntry): NodeJS.ProcessEnv;
  /** Ports of one instance of a service. */
  ports(entry: ServiceManifestEntry, copy: number): Promise<InstancePorts> | InstancePorts;
  /** How many instances of a service (default 1). */
  copies?(entry: ServiceManifestEntry): number;
  onLine(instance: string, line: string): void;
  /** Supervisor's own messages (starts, exits, restarts). */
  say(message: string): void;
  /** The file a service runs (default its compiled main); tests run stand-ins. */
  mainOf?(entry: ServiceManifestEntry): string;
  /** How often running instances are checked (default 5 s). */
  watchIntervalMs?: number;
  /** Restart back-off: first delay and ceiling (defaults 1 s and 30 s). */
  restartDelayMs?: { first: number; max: number };
}

export interface InstanceStatus {
  instance: string;
  service: string;
  pid: number | undefined;
  /** `unready`: running but its readiness check fails (a dependency is down, say). */
  state: 'starting' | 'ready' | 'unready' | 'restarting' | 'stopped';
  restarts: number;
  opsUrl: string;
  publicUrl?: string;
}

interface Instance extends InstanceStatus {
  entry: ServiceManifestEntry;
  env: NodeJS.ProcessEnv;
  process?: LaunchedService;
  ports: InstancePorts;
  delayMs: number;
  /** When it was last seen ready (0: not since its last start). */
  readyAt: number;
  /** Consecutive liveness checks that got no answer. */
  unanswered: number;
}

/**
 * The entry's run-time settings (manifest `env`) under the environment the system runs
 * with, which overrides a name, except that NODE_OPTIONS of both apply: the entry's first,
 * so a flag given to the whole system (e.g. --inspect) wins without dropping the entry's.
 */
export function runtimeEnv(entry: ServiceManifestEntry, env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const merged: NodeJS.ProcessEnv = { ...entry.env, ...env };
  if (entry.env?.NODE_OPTIONS && env.NODE_OPTIONS) merged.NODE_OPTIONS = `${entry.env.NODE_OPTIONS} ${env.NODE_OPTIONS}`;
  return merged;
}

/** A process that stays ready this long has recovered: its next crash restarts at the first delay again. */
const HEALTHY_AFTER_MS = 60_000;
/** How often every instance's liveness and readiness are checked once the system is up. */
const WATCH_INTERVAL_MS = 5_000;
/** A process that answers no liveness check this many times in a row is hung: it is killed and restarted. */
const HUNG_AFTER_UNANSWERED = 3;

/**
 * Runs the services of a manifest as child processes, in order, each waited for until
 * ready. A service that exits unexpectedly is restarted with exponential back-off
 * (logged, counted) while the others keep serving; `stop()` ends them all, last first.
 * Used by `npm start` and the end-to-end harness alike, so both run the system the same way.
 */
export class Supervisor {
  private readonly instances: Instance[] = [];
  private stopping = false;
  private watch: NodeJS.Timeout | undefined;
  private checking = false;

  constructor(private readonly options: SupervisorOptions) {}

  async start(): Promise<void> {
    const provided: Record<string, string> = {};
    for (const entry of this.options.manifest) {
      const copies = this.options.copies?.(entry) ?? 1;
      for (let copy = 0; copy < copies; copy++) {
        const ports = await this.options.ports(entry, copy);
        const opsUrl = `http://127.0.0.1:${ports.opsPort}`;
        const instance: Instance = {
          entry,
          instance: `${entry.name}${copy || ''}`,
          service: entry.name,
          pid: undefined,
          state: 'starting',
          restarts: 0,
          opsUrl,
          ...(ports.publicPort !== undefined ? { publicUrl: `http://127.0.0.1:${ports.publicPort}` } : {}),
          ports,
          env: {
            ...runtimeEnv(entry, this.options.env),
            ...provided,
            ...this.options.serviceEnv?.(entry),
            SERVICE_NAME: entry.name,
            OPS_PORT: String(ports.opsPort),
            ...(ports.publicPort !== undefined ? { HTTP_PORT: String(ports.publicPort) } : {}),
          },
          delayMs: this.options.restartDelayMs?.first ?? 1_000,
          readyAt: 0,
          unanswered: 0,
        };
        this.instances.push(instance);
        this.launch(instance);
        await instance.process!.waitUntilReady(ports.opsPort);
        instance.state = 'ready';
        instance.readyAt = performance.now();
        if (copy === 0) Object.assign(provided, entry.provides?.(opsUrl));
      }
    }
    this.watch = setInterval(() => void this.checkAll(), this.options.watchIntervalMs ?? WATCH_INTERVAL_MS).unref();
  }

  status(): InstanceStatus[] {
    return this.instances.map(({ instance, service, pid, state, restarts, opsUrl, publicUrl }) => ({ instance, service, pid, state, restarts, opsUrl, ...(publicUrl ? { publicUrl } : {}) }));
  }

  /** Prometheus text: restarts and up-ness per service instance (no other labels). */
  metrics(): string {
    const lines = ['# HELP supervisor_service_restarts_total Unexpected exits of a service instance that the supervisor restarted.', '# TYPE supervisor_service_restarts_total counter'];
    for (const i of this.instances) lines.push(`supervisor_service_restarts_total{service="${i.service}",instance="${i.instance}"} ${i.restarts}`);
    lines.push('# HELP supervisor_service_up Whether the instance is running and was ready.', '# TYPE supervisor_service_up gauge');
    for (const i of this.instances) lines.push(`supervisor_service_up{service="${i.service}",instance="${i.instance}"} ${i.state === 'ready' ? 1 : 0}`);
    return `${lines.join('\n')}\n`;
  }

  async stop(): Promise<void> {
    this.stopping = true;
    clearInterval(this.watch);
    for (const instance of [...this.instances].reverse()) {
      await instance.process?.stop();
      instance.state = 'stopped';
    }
  }

  private launch(instance: Instance): void {
    const child = launchService(instance.instance, (this.options.mainOf ?? compiledMain)(instance.entry), instance.env, (name, line) => this.options.onLine(name, line));
    instance.process = child;
    instance.pid = child.child.pid;
    instance.readyAt = 0;
    instance.unanswered = 0;
    void child.exited.then(({ code, signal }) => this.exited(instance, child, signal ?? code));
  }

  private exited(instance: Instance, child: LaunchedService, how: NodeJS.Signals | number | null): void {
    if (this.stopping || instance.process !== child) return;
    if (instance.readyAt > 0 && performance.now() - instance.readyAt > HEALTHY_AFTER_MS) instance.delayMs = this.options.restartDelayMs?.first ?? 1_000;
    const delay = instance.delayMs;
    instance.delayMs = Math.min(delay * 2, this.options.restartDelayMs?.max ?? 30_000);
    instance.state = 'restarting';
    instance.restarts++;
    instance.pid = undefined;
    this.options.say(`${instance.instance} exited (${how}); restarting in ${delay / 1000} s (restart ${instance.restarts})`);
    setTimeout(() => {
      if (this.stopping) return;
      this.launch(instance);
      instance.state = 'starting';
      // From here the watch decides: ready when its readiness answers, however long that takes.
    }, delay).unref();
  }

  /**
   * Every few seconds: an instance whose readiness answers is `ready` (also after a slow
   * restart), one that answers liveness but not readiness is `unready`, and one that has
   * answered nothing for HUNG_AFTER_UNANSWERED checks in a row is hung — killed, so its
   * exit restarts it.
   */
  private async checkAll(): Promise<void> {
    // One round at a time: an overlapping round would count a missed answer twice.
    if (this.checking) return;
    this.checking = true;
    try {
      await this.checkRound();
    } finally {
      this.checking = false;
    }
  }

  private async checkRound(): Promise<void> {
    await Promise.all(
      this.instances.map(async (instance) => {
        if (this.stopping || instance.state === 'restarting' || !instance.process) return;
        const process = instance.process;
        const answer = async (path: string): Promise<number | undefined> => {
          const response = await fetch(`${instance.opsUrl}${path}`, { signal: AbortSignal.timeout(2_000) }).catch(() => undefined);
          await response?.body?.cancel().catch(() => undefined); // free the connection now
          return response?.status;
        };
        const ready = await answer('/health/ready');
        const gone = process.child.exitCode !== null || process.child.signalCode !== null;
        if (this.stopping || instance.process !== process || gone) return;
        if (ready === 200) {
          if (instance.state !== 'ready') this.options.say(`${instance.instance} ready${instance.restarts > 0 ? ' again' : ''}`);
          if (instance.readyAt === 0) instance.readyAt = performance.now();
          instance.state = 'ready';
          instance.unanswered = 0;
          return;
        }
        const live = ready !== undefined || (await answer('/health/live')) !== undefined;
        if (live) {
          instance.unanswered = 0;
          if (instance.state === 'ready') this.options.say(`${instance.instance} is not ready (readiness answered ${ready})`);
          if (instance.state !== 'starting') instance.state = 'unready';
          return;
        }
        instance.unanswered++;
        // A restart that never comes up (stuck before it listens) gets a minute, then the same.
        if (instance.unanswered >= (instance.readyAt > 0 ? HUNG_AFTER_UNANSWERED : HUNG_AFTER_UNANSWERED * 4)) {
          this.options.say(`${instance.instance} answered no health check ${instance.unanswered} times in a row; killing it`);
          process.child.kill('SIGKILL');
        }
      }),
    );
  }
}
