import { createHash } from 'node:crypto';
import type { GenerationRpc } from '@homiwork/contracts';

/**
 * A deterministic stream of random numbers: SHA-256 in counter mode over a seed. The same
 * request yields the same result on every machine and every run (a retried job produces the
 * same content), while any change in the prompt changes everything.
 */
export class SeededRandom {
  private block: Buffer = Buffer.alloc(0);
  private offset = 0;
  private counter = 0;

  constructor(private readonly seed: Buffer) {}

  /** The seed of a request: its kind, style and prompt, framed so no two triples collide. */
  static forRequest(kind: GenerationRpc.GenerationKind, prompt: string, style: string | undefined): SeededRandom {
    return new SeededRandom(createHash('sha256').update(JSON.stringify([kind, style ?? '', prompt])).digest());
  }

  /** A 31-bit integer the ffmpeg sources accept as their own seed. */
  seed31(): number {
    return this.uint32() >>> 1;
  }

  uint32(): number {
    if (this.offset + 4 > this.block.length) {
      const counter = Buffer.alloc(4);
      counter.writeUInt32BE(this.counter++);
      this.block = createHash('sha256').update(this.seed).update(counter).digest();
      this.offset = 0;
    }
    const value = this.block.readUInt32BE(this.offset);
    this.offset += 4;
    return value;
  }

  /** Uniform in [0, 1). */
  next(): number {
    return this.uint32() / 0x1_0000_0000;
  }

  /** Uniform in [min, max). */
  between(min: number, max: number): number {
    return min + (max - min) * this.next();
  }

  /** Uniform integer in [min, max], both included. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  chance(probability: number): boolean {
    return this.next() < probability;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('pick from an empty list');
    return items[Math.floor(this.next() * items.length)] as T;
  }
}

// Words that carry no theme of their own. English only: a prompt in another language
// simply keeps more of its words, which is harmless.
const STOPWORDS = new Set(
  (
    'a an and are as at be but by can could for from had has have he her his how i if in into is it its ' +
    'let me my of on or our please she so some that the their them then there these they this those to ' +
    'us was we were what when where which who why will with would you your about make write create ' +
    'generate give want need like just also very really short long poem song text letter image picture ' +
    'video some any one two new old all get not now out own too way yet more most much many other'
  ).split(' '),
);

const MAX_WORD_LENGTH = 24;

/**
 * A few words of the prompt to build on: the longest distinct content words, in the order
 * the prompt has them, as written (a name keeps its capital; a shouted word is lowered).
 * The scrubber's placeholders (`[email]`, `[phone]`) never become a theme.
 */
export function themeWords(prompt: string, count = 3, exclude: (word: string) => boolean = () => false): string[] {
  const words = new Map<string, string>();
  const withoutPlaceholders = prompt.normalize('NFC').replace(/\[(?:email|phone)\]/giu, ' ');
  for (const match of withoutPlaceholders.matchAll(/\p{L}[\p{L}\p{M}'’-]*/gu)) {
    const written = match[0].replace(/['’-]+$/u, '');
    const key = written.toLowerCase();
    const length = [...key].length;
    if (length < 3 || length > MAX_WORD_LENGTH || STOPWORDS.has(key) || exclude(key) || words.has(key)) continue;
    words.set(key, written === written.toUpperCase() ? key : written);
  }
  const keys = [...words.keys()];
  const chosen = new Set([...keys].sort((a, b) => [...b].length - [...a].length).slice(0, count));
  return keys.filter((key) => chosen.has(key)).map((key) => words.get(key)!);
}
