/**
 * What the @nestjs/microservices transport costs on the request/reply hot path.
 *
 * One process, one NATS server (the machine's), the same echo route served four ways and
 * called in closed loops, variants interleaved round by round so drift hits all alike:
 *
 *   direct      — RpcServer.serve(route, handler): the path services used before the transport.
 *   controller  — @OnRpc on a Nest controller: bound by Nest (RpcContextCreator: guards,
 *                 pipes, interceptors, filters), served by NatsJetStreamServer → RpcServer.
 *   provider    — @OnRpc on a provider: the transport calls the method directly (how
 *                 handler classes declared as providers are served).
 *   proxy       — the direct server called through NatsRpcClientProxy.send instead of
 *                 RpcClient.call: the client side of the framework path.
 *
 * Not part of `npm test`. From the repository root with the repo's Node 24:
 *   node_modules/.bin/node --import @swc-node/register/esm-register bench/transport.bench.ts
 * Knobs: BENCH_SECONDS (per round, 4), BENCH_ROUNDS (3), BENCH_CONCURRENCY (32,1).
 */
import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import { Controller, Injectable, Module } from '@nestjs/common';
import { lastValueFrom } from 'rxjs';
import { z } from 'zod';
import { baseServiceConfig, loadConfig } from '@homiwork/config';
import { defineRoute, type CallerContext } from '@homiwork/contracts';
import { connectToNats, MessagingMetrics, RpcClient, RpcServer } from '@homiwork/messaging';
import { createLogger, ServiceMetrics } from '@homiwork/observability';
import { NatsJetStreamServer, NatsRpcClientProxy, OnRpc, rpcPattern, ServiceKitModule, startService } from '@homiwork/service-kit';
import { randomId, TEST_NATS_URL } from '@homiwork/testing';
import { type Cleanup, intEnv, intListEnv, machineBusyTicks, out, removeNamespaceOnCleanup, runBench } from './support/bench-kit.js';
import { closedLoop } from './support/loops.js';
import { fmt, median } from './support/stats.js';

const CONFIG = {
  seconds: intEnv('BENCH_SECONDS', 4, 1, 120),
  rounds: intEnv('BENCH_ROUNDS', 3, 1, 20),
  concurrency: intListEnv('BENCH_CONCURRENCY', '32,1', 1, 1024),
  totalTimeoutMs: 15 * 60_000,
};

const echo = (method: string) =>
  defineRoute({
    service: 'identity',
    method,
    request: z.strictObject({ word: z.string().max(32) }),
    response: z.strictObject({ word: z.string(), userId: z.uuid().nullable() }),
  });
const DirectEcho = echo('bench.echo-direct');
const ControllerEcho = echo('bench.echo-controller');
const ProviderEcho = echo('bench.echo-provider');

type Echo = { word: string; userId: string | null };
const answer = (request: { word: string }, caller: CallerContext): Promise<Echo> => Promise.resolve({ word: request.word, userId: caller.userId ?? null });

@Controller()
class EchoController {
  @OnRpc(ControllerEcho)
  echo(request: { word: string }, caller: CallerContext): Promise<Echo> {
    return answer(request, caller);
  }
}

@Injectable()
class EchoProvider {
  @OnRpc(ProviderEcho)
  echo(request: { word: string }, caller: CallerContext): Promise<Echo> {
    return answer(request, caller);
  }
}

const cleanups: Cleanup[] = [];

async function main(): Promise<void> {
  const namespace = `benchrpc${randomId(3)}`;
  const config = loadConfig(baseServiceConfig, { NATS_URL: TEST_NATS_URL, EVENT_NAMESPACE: namespace, OPS_PORT: '0', LOG_LEVEL: 'silent', EVENT_STREAM_MAX_BYTES: String(16 * 1024 * 1024) });

  @Module({ imports: [ServiceKitModule.forRoot({ service: 'identity', config })], controllers: [EchoController], providers: [EchoProvider] })
  class BenchModule {}
  const started = await startService(BenchModule, config, { service: 'identity' });
  cleanups.push({ what: 'closing the Nest app', run: () => started.close() });

  // The old path: its own connection, as the transport has its own (the app's).
  const serverNats = await connectToNats(TEST_NATS_URL, 'bench-direct-server');
  cleanups.push({ what: 'closing the direct server connection', run: () => serverNats.nc.close() });
  const direct = new RpcServer(serverNats.nc, namespace, 'identity', createLogger({ service: 'bench', level: 'silent' }), new MessagingMetrics(new ServiceMetrics(`bench-${randomUUID()}`)));
  direct.serve(DirectEcho, answer);

  const clientNats = await connectToNats(TEST_NATS_URL, 'bench-client');
  cleanups.push({ what: 'closing the client connection', run: () => clientNats.nc.close() });
  removeNamespaceOnCleanup(clientNats.nc, namespace, cleanups);
  const client = new RpcClient(clientNats.nc, namespace);
  const proxy = new NatsRpcClientProxy({ nc: clientNats.nc, namespace });
  const caller: CallerContext = { requestId: 'bench', userId: randomUUID() };

  const viaClient = (route: typeof DirectEcho) => async () => {
    const reply = await client.call(route, { word: 'hello' }, caller);
    return { ok: reply.word === 'hello', outcome: 'ok' };
  };
  const variants: Array<{ name: string; job: () => Promise<{ ok: boolean; outcome: string }> }> = [
    { name: 'direct', job: viaClient(DirectEcho) },
    { name: 'controller', job: viaClient(ControllerEcho) },
    { name: 'provider', job: viaClient(ProviderEcho) },
    {
      name: 'proxy',
      job: async () => {
        const reply = await lastValueFrom(proxy.send<Echo>(DirectEcho, { request: { word: 'hello' }, caller }));
        return { ok: reply.word === 'hello', outcome: 'ok' };
      },
    },
  ];

  out(`# transport bench — ${CONFIG.rounds} rounds × ${CONFIG.seconds} s per variant, interleaved; node ${process.version}`);
  for (const concurrency of CONFIG.concurrency) {
    for (const variant of variants) await closedLoop(concurrency, { seconds: 1 }, variant.job); // warm-up (JIT, subscriptions)
    const results = new Map<string, Array<{ perSecond: number; p50: number; p99: number; cpuUs: number }>>(variants.map((variant) => [variant.name, []]));
    let busy = 0;
    let wall = 0;
    for (let round = 0; round < CONFIG.rounds; round++) {
      for (const variant of variants) {
        const ticks = machineBusyTicks();
        const cpu = process.cpuUsage();
        const result = await closedLoop(concurrency, { seconds: CONFIG.seconds }, variant.job);
        const used = process.cpuUsage(cpu);
        busy += machineBusyTicks() - ticks;
        wall += result.wall;
        if (result.firstFailure) throw new Error(`${variant.name}: ${result.firstFailure}`);
        // CPU of this process (client + server, NATS excluded) per round trip: steadier than the rate on a shared machine.
        results.get(variant.name)!.push({ ...result, cpuUs: (used.user + used.system) / result.done });
      }
    }
    const directRate = median(results.get('direct')!.map((result) => result.perSecond));
    out(`\n## ${concurrency} in flight (machine busy ${fmt(busy / 100 / wall, 2)} cores on average)`);
    const directCpu = median(results.get('direct')!.map((result) => result.cpuUs));
    out('variant      round trips/s (median; each round)                      p50 ms   p99 ms   rate/direct   paired   CPU µs/call   CPU/direct');
    const directRounds = results.get('direct')!;
    for (const [name, rounds] of results) {
      const rate = median(rounds.map((result) => result.perSecond));
      const cpuUs = median(rounds.map((result) => result.cpuUs));
      // Each round's rate over the direct rate of the same round (seconds apart): steadier than the ratio of medians when the machine's load drifts.
      const paired = median(rounds.map((result, round) => result.perSecond / directRounds[round]!.perSecond));
      out(
        `${name.padEnd(12)} ${fmt(rate, 0).padStart(7)}  (${rounds.map((result) => fmt(result.perSecond, 0)).join(', ')})`.padEnd(69) +
          `${fmt(median(rounds.map((result) => result.p50)), 2).padStart(6)}   ${fmt(median(rounds.map((result) => result.p99)), 2).padStart(6)}   ${fmt(rate / directRate, 3).padStart(11)}   ${fmt(paired, 3).padStart(6)}   ${fmt(cpuUs, 1).padStart(11)}   ${fmt(cpuUs / directCpu, 3).padStart(10)}`,
      );
    }
  }
  await direct.stop();
  await dispatchOnly(started.app.getMicroservices()[0]!.getTransportServer() as NatsJetStreamServer);
}

/**
 * The handler call alone, without NATS or validation: what Nest's pipeline (RpcContextCreator:
 * guards, pipes, interceptors, exception zone) and our settle() add per call, in ns.
 */
async function dispatchOnly(server: NatsJetStreamServer): Promise<void> {
  const controller = server.getHandlers().get(rpcPattern(ControllerEcho))!;
  const provider = server.getHandlers().get(rpcPattern(ProviderEcho))!;
  const caller: CallerContext = { requestId: 'bench' };
  const request = { word: 'hello' };
  const time = async (call: () => Promise<unknown>): Promise<number> => {
    const n = 200_000;
    for (let i = 0; i < 20_000; i++) await call();
    const started = process.hrtime.bigint();
    for (let i = 0; i < n; i++) await call();
    return Number(process.hrtime.bigint() - started) / n;
  };
  const rows: Array<[string, number]> = [];
  for (let round = 0; round < 3; round++) {
    rows.push(['plain handler', await time(() => answer(request, caller))]);
    rows.push(['provider (bound method)', await time(() => provider(request, caller))]);
    rows.push(['controller (Nest pipeline)', await time(() => controller(request, caller))]);
  }
  out('\n## handler dispatch alone (no NATS), ns per call, median of 3');
  for (const name of ['plain handler', 'provider (bound method)', 'controller (Nest pipeline)']) out(`${name.padEnd(28)} ${fmt(median(rows.filter(([n]) => n === name).map(([, ns]) => ns)), 0)}`);
}

await runBench(main, cleanups, CONFIG.totalTimeoutMs);
