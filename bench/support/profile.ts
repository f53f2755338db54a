/** CPU profiles of other Node processes over the inspector, and where their time went. */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { out } from './bench-kit.js';
import { fmt } from './stats.js';

export interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

export interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export class InspectorSession {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();

  private constructor(private readonly socket: WebSocket) {
    socket.addEventListener('message', (event: MessageEvent) => {
      const message = JSON.parse(String(event.data)) as { id?: number; result?: unknown; error?: { message: string } };
      const waiter = message.id === undefined ? undefined : this.pending.get(message.id);
      if (!waiter) return;
      this.pending.delete(message.id!);
      if (message.error) waiter.reject(new Error(message.error.message));
      else waiter.resolve(message.result);
    });
  }

  static async open(url: string): Promise<InspectorSession> {
    const socket = new WebSocket(url);
    await new Promise<void>((resolve, reject) => {
      socket.addEventListener('open', () => resolve(), { once: true });
      socket.addEventListener('error', () => reject(new Error(`inspector at ${url} refused the connection`)), { once: true });
    });
    return new InspectorSession(socket);
  }

  send<T>(method: string, params: Record<string, unknown> = {}): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      this.socket.send(JSON.stringify({ id, method, params }));
    });
  }

  close(): void {
    this.socket.close();
  }
}

export function frameName(frame: ProfileNode['callFrame']): string {
  const file = frame.url.replace(/^file:\/\/.*?\/node_modules\//, '').replace(/^file:\/\/\/work\/main\//, '');
  return `${frame.functionName || '(anonymous)'}${file ? ` ${file}:${frame.lineNumber + 1}` : ''}`;
}

/** Which package or part of the repo a profile frame belongs to. */
export function areaOf(frame: ProfileNode['callFrame']): string {
  const { url, functionName } = frame;
  if (!url) return functionName.startsWith('(') ? functionName : '(native / V8 builtins)';
  const modules = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url);
  if (modules) return modules[1]!;
  const repo = /\/work\/main\/((?:libs|services)\/[^/]+)\//.exec(url) ?? /^file:\/\/.*?\/((?:libs|services)\/[^/]+)\//.exec(url);
  if (repo) return repo[1]!;
  if (url.startsWith('node:')) return url.split('/').slice(0, 2).join('/');
  return url;
}

export interface SummaryOptions {
  /** Rows per table. */
  top: number;
  /** Also print each row's time per unit of work (e.g. 120 images → "ms/image"). */
  per?: { count: number; unit: string };
  /** Said after the headline, e.g. what the profile does not contain. */
  note?: string;
}

/** Busy time of a profile: self time by package / area and by function, inclusive time by package / area. */
export function summarizeProfile(name: string, profile: CpuProfile, options: SummaryOptions): string[] {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const selfByArea = new Map<string, number>();
  const inclusiveByArea = new Map<string, number>();
  const selfByFrame = new Map<string, number>();
  let total = 0;
  let idle = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const delta = profile.timeDeltas[i] ?? 0;
    const leaf = byId.get(profile.samples[i]!)!;
    total += delta;
    if (leaf.callFrame.functionName === '(idle)') {
      idle += delta;
      continue;
    }
    const area = areaOf(leaf.callFrame);
    selfByArea.set(area, (selfByArea.get(area) ?? 0) + delta);
    const key = frameName(leaf.callFrame);
    selfByFrame.set(key, (selfByFrame.get(key) ?? 0) + delta);
    const seen = new Set<string>();
    for (let id: number | undefined = leaf.id; id !== undefined; id = parent.get(id)) {
      const stackArea = areaOf(byId.get(id)!.callFrame);
      if (seen.has(stackArea) || stackArea === '(root)') continue;
      seen.add(stackArea);
      inclusiveByArea.set(stackArea, (inclusiveByArea.get(stackArea) ?? 0) + delta);
    }
  }
  const busy = total - idle;
  const { per } = options;
  const perUnit = (micros: number) => (per ? `${fmt(micros / 1000 / per.count, 1).padStart(5)} ms/${per.unit}  ` : '');
  const rows = (map: Map<string, number>) =>
    [...map.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, options.top)
      .map(([key, value]) => `      ${fmt((value / busy) * 100, 1).padStart(5)}%  ${perUnit(value)}${key}`);
  const perHeadline = per ? `, ${fmt(busy / 1000 / per.count, 1)} ms per ${per.unit}` : '';
  return [
    `    ${name}: ${fmt(busy / 1000, 0)} ms busy of ${fmt(total / 1000, 0)} ms sampled (${fmt((busy / total) * 100, 0)}% of one core${perHeadline}); shares below are of busy time${options.note ? `; ${options.note}` : ''}`,
    '    self time by package / area:',
    ...rows(selfByArea),
    '    inclusive time by package / area (synchronous stacks; async continuations count where they resume):',
    ...rows(inclusiveByArea),
    '    self time by function:',
    ...rows(selfByFrame),
  ];
}

/**
 * Records a CPU profile of every process in `inspectorUrls` (name → inspector WebSocket URL)
 * while `run` runs, writes each to `<dir>/<label>.<name>.cpuprofile` and prints its summary.
 */
export async function profileDuring<T>(
  inspectorUrls: Map<string, string>,
  where: { dir: string; label: string },
  summary: () => SummaryOptions,
  run: () => Promise<T>,
): Promise<T> {
  const sessions = new Map<string, InspectorSession>();
  for (const [name, url] of inspectorUrls) {
    const session = await InspectorSession.open(url);
    await session.send('Profiler.enable');
    await session.send('Profiler.setSamplingInterval', { interval: 200 });
    await session.send('Profiler.start');
    sessions.set(name, session);
  }
  const result = await run();
  await mkdir(where.dir, { recursive: true });
  for (const [name, session] of sessions) {
    const { profile } = await session.send<{ profile: CpuProfile }>('Profiler.stop');
    session.close();
    const file = join(where.dir, `${where.label}.${name}.cpuprofile`);
    await writeFile(file, JSON.stringify(profile));
    out(`  profile of ${name}: ${file}`);
    for (const line of summarizeProfile(name, profile, summary())) out(line);
  }
  return result;
}
