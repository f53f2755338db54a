import type { SeededRandom } from './seed.js';

const FALLBACK_THEMES = ['morning', 'river', 'lantern', 'harbour', 'meadow', 'winter', 'orchard'];
const ADJECTIVES = ['quiet', 'golden', 'restless', 'silver', 'gentle', 'distant', 'bright', 'hidden', 'patient', 'tender', 'wild', 'soft'];
const NOUNS = ['light', 'rain', 'shore', 'sky', 'road', 'garden', 'window', 'evening', 'wind', 'stone', 'tide', 'ember'];
const VERBS = ['wakes', 'drifts', 'waits', 'sings', 'lingers', 'turns', 'glows', 'wanders', 'rests', 'returns'];
const TIMES = ['at dawn', 'by nightfall', 'in the hush of noon', 'when the year turns', 'before the rain', 'after the storm'];

// `{theme}` is one of the prompt's words; every stanza opens on one, so the poem is about what was asked.
const OPENING_LINES = [
  'Of {theme} I keep a {adj} account,',
  'There is {theme} in the {noun} {time},',
  '{Theme}, {adj} and near, {verb} again,',
  'I carried {theme} like a {adj} {noun},',
  'When {theme} {verb}, the {noun} listens,',
];
const LINES = [
  'the {noun} {verb} {time},',
  'and every {adj} {noun} remembers,',
  'a {adj} {noun} that {verb} for us,',
  'where {theme} and {noun} are one,',
  'so the {noun} {verb}, {adj} and slow,',
  'we learn the {adj} names of {noun},',
  'as {theme} {verb} past the {noun},',
];
const CLOSING_LINES = [
  'and {theme} stays when the {noun} is gone.',
  'until the {adj} {noun} is home.',
  'and that is all the {noun} will say.',
  'a {adj} {noun}, and {theme}, and light.',
  'and the {noun} {verb}, and so do we.',
];

function capitalise(word: string): string {
  return word.charAt(0).toUpperCase() + word.slice(1);
}

function fill(template: string, random: SeededRandom, theme: string): string {
  return template
    .replace(/\{theme\}/g, theme)
    .replace(/\{Theme\}/g, capitalise(theme))
    .replace(/\{adj\}/g, () => random.pick(ADJECTIVES))
    .replace(/\{noun\}/g, () => random.pick(NOUNS))
    .replace(/\{verb\}/g, () => random.pick(VERBS))
    .replace(/\{time\}/g, () => random.pick(TIMES));
}

/** One to three stanzas of four lines (4–12 lines), built on a few words of the prompt. */
export function composePoem(themes: readonly string[], random: SeededRandom): string {
  const palette = themes.length > 0 ? themes : [random.pick(FALLBACK_THEMES)];
  const stanzaCount = random.int(1, 3);
  const stanzas: string[] = [];
  for (let stanza = 0; stanza < stanzaCount; stanza++) {
    const theme = palette[stanza % palette.length] as string;
    const lines = [
      fill(random.pick(OPENING_LINES), random, theme),
      fill(random.pick(LINES), random, random.pick(palette)),
      fill(random.pick(LINES), random, random.pick(palette)),
      fill(random.pick(CLOSING_LINES), random, theme),
    ];
    stanzas.push(lines.map((line, index) => (index === 0 ? capitalise(line) : line)).join('\n'));
  }
  return `${stanzas.join('\n\n')}\n`;
}
