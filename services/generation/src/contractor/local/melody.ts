import type { SeededRandom } from './seed.js';

export const SAMPLE_RATE = 48_000;

// Scales as semitone offsets from the root: pentatonic and modal scales have no note that
// clashes badly with another, so any random walk on them sounds like a tune.
const SCALES: readonly (readonly number[])[] = [
  [0, 2, 4, 7, 9], // major pentatonic
  [0, 3, 5, 7, 10], // minor pentatonic
  [0, 2, 3, 5, 7, 9, 10], // dorian
  [0, 2, 4, 5, 7, 9, 11], // major
];

function frequency(midiNote: number): number {
  return 440 * 2 ** ((midiNote - 69) / 12);
}

interface Note {
  readonly start: number;
  readonly length: number;
  readonly midi: number;
  readonly level: number;
}

/** A melody on a seeded scale and tempo with a bass note on every beat, filling `seconds`. */
export function composeMelody(random: SeededRandom, seconds: number): Note[] {
  const scale = random.pick(SCALES);
  const root = random.int(57, 67);
  const step = 60 / random.int(96, 144) / 2; // eighth notes
  const notes: Note[] = [];
  let degree = random.int(0, scale.length - 1);
  for (let start = 0; start < seconds - step / 2; ) {
    const length = random.chance(0.25) ? step * 2 : step;
    if (!random.chance(0.12)) {
      degree = Math.max(0, Math.min(scale.length * 2 - 1, degree + random.pick([-2, -1, -1, 0, 1, 1, 2, 3])));
      const midi = root + 12 * Math.floor(degree / scale.length) + scale[degree % scale.length]!;
      notes.push({ start, length: Math.min(length, seconds - start), midi, level: 0.5 });
    }
    start += length;
  }
  const beat = step * 2;
  for (let start = 0, index = 0; start < seconds - beat / 2; start += beat, index++) {
    notes.push({ start, length: Math.min(beat, seconds - start), midi: root - 12 + (index % 4 === 2 ? 7 : 0), level: 0.3 });
  }
  return notes;
}

/**
 * The melody as signed 16-bit little-endian mono PCM: each note a sine with two overtones
 * under a short attack and exponential decay, a fade at the end, normalised to -2 dBFS.
 */
export function synthesize(notes: readonly Note[], seconds: number): Buffer {
  const total = Math.round(seconds * SAMPLE_RATE);
  const mix = new Float64Array(total);
  for (const note of notes) {
    const first = Math.round(note.start * SAMPLE_RATE);
    const count = Math.min(total - first, Math.round(note.length * SAMPLE_RATE));
    const omega = (2 * Math.PI * frequency(note.midi)) / SAMPLE_RATE;
    for (let i = 0; i < count; i++) {
      const t = i / SAMPLE_RATE;
      const envelope = Math.min(1, t / 0.01) * Math.exp(-3 * t) * Math.min(1, (count - i) / (0.01 * SAMPLE_RATE));
      mix[first + i]! += note.level * envelope * (Math.sin(omega * i) + 0.3 * Math.sin(2 * omega * i) + 0.12 * Math.sin(3 * omega * i));
    }
  }
  const fade = Math.round(0.25 * SAMPLE_RATE);
  for (let i = 0; i < fade && i < total; i++) mix[total - 1 - i]! *= i / fade;
  let peak = 0;
  for (const sample of mix) peak = Math.max(peak, Math.abs(sample));
  const gain = peak > 0 ? 0.8 / peak : 0;
  const pcm = Buffer.alloc(total * 2);
  for (let i = 0; i < total; i++) pcm.writeInt16LE(Math.round(mix[i]! * gain * 32767), i * 2);
  return pcm;
}
