/**
 * The operator's view of the dead-letter stream (`npm run dead-letters -- …`):
 *
 *   list   [--consumer <durable>] [--json]          what is there: id, when, consumer, event
 *                                                   type, reason, deliveries, handler failures,
 *                                                   scrubbed error — never the payload
 *   replay <id…> | --all [--consumer <durable>]     republish the event the letter was made
 *                                                   from to the subject its consumer reads; the
 *                                                   letter leaves the dead-letter stream
 *
 * The consumer is the one the letter's subject names (`<ns>.dlq.<durable>`), never its
 * headers, which the dead-lettering service wrote; a letter whose headers disagree, or
 * that does not match the event stored at its recorded sequence, is refused (see
 * DeadLetterArchive).
 * Replays keep the producer's message id for the consumers' inbox, so a consumer that
 * already applied the event skips it and none applies it twice (see DeadLetterArchive).
 * Reads NATS_URL (default nats://127.0.0.1:4222) and EVENT_NAMESPACE (default hw).
 */
import { parseArgs } from 'node:util';
import { connectToNats, DeadLetterArchive, type DeadLetter } from '@homiwork/messaging';

const USAGE = 'usage: dead-letters list [--consumer <durable>] [--json] | dead-letters replay <id…> | --all [--consumer <durable>]';
const out = (line: string): void => void process.stdout.write(`${line}\n`);

function table(letters: DeadLetter[]): string[] {
  const rows = letters.map((l) => [String(l.id), l.deadLetteredAt.toISOString(), l.consumer, l.eventType, l.reason, String(l.deliveries), l.handlerFailures === undefined ? '-' : String(l.handlerFailures), l.error.slice(0, 100)]);
  const header = ['id', 'dead-lettered at', 'consumer', 'event', 'reason', 'deliveries', 'handler failures', 'error'];
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column]!.length)));
  return [header, ...rows].map((row) => row.map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd(widths[column]!))).join('  '));
}

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { consumer: { type: 'string' }, all: { type: 'boolean' }, json: { type: 'boolean' }, help: { type: 'boolean' } } });
  const [command, ...ids] = positionals;
  if (values.help || (command !== 'list' && command !== 'replay')) {
    out(USAGE);
    return values.help ? 0 : 2;
  }
  if (command === 'replay' && (values.all ? ids.length > 0 : ids.length === 0)) {
    out(`replay takes dead-letter ids or --all, not both nor neither\n${USAGE}`);
    return 2;
  }
  const nats = await connectToNats(process.env.NATS_URL ?? 'nats://127.0.0.1:4222', 'dead-letters', { user: process.env.NATS_USER, password: process.env.NATS_PASSWORD });
  try {
    const archive = new DeadLetterArchive(nats, process.env.EVENT_NAMESPACE ?? 'hw');
    const filter = values.consumer ? { consumer: values.consumer } : {};
    if (command === 'list') {
      const letters = await archive.list(filter);
      if (values.json) for (const letter of letters) out(JSON.stringify(letter));
      else if (letters.length === 0) out('no dead letters');
      else for (const line of table(letters)) out(line);
      return 0;
    }
    const chosen = values.all ? (await archive.list(filter)).map((letter) => letter.id) : ids.map(Number);
    let failed = 0;
    for (const id of chosen) {
      try {
        const replayed = await archive.replay(id);
        out(`replayed ${id} (${replayed.consumer}) to ${replayed.subject}${replayed.duplicate ? ' — already replayed within the duplicate window, stored once' : ` as event ${replayed.eventSequence}`}`);
      } catch (error) {
        failed++;
        out(`could not replay ${id}: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
    out(`${chosen.length - failed} replayed, ${failed} failed`);
    return failed > 0 ? 1 : 0;
  } finally {
    await nats.nc.close();
  }
}

process.exitCode = await main(process.argv.slice(2)).catch((error: unknown) => {
  process.stderr.write(`dead-letters: ${error instanceof Error ? error.message : String(error)}\n`);
  return 1;
});
