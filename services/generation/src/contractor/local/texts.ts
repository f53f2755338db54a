import { themeWords, type SeededRandom } from './seed.js';

export const TEXT_STYLES = ['greeting', 'formal-letter', 'marketing'] as const;
export type TextStyle = (typeof TEXT_STYLES)[number];

const KEYWORDS: Record<TextStyle, readonly string[]> = {
  greeting: ['birthday', 'congratulations', 'congrats', 'wedding', 'christmas', 'holiday', 'holidays', 'anniversary', 'thanks', 'thank', 'greeting', 'greetings', 'wish', 'wishes', 'card', 'get-well', 'retirement', 'graduation', 'new year'],
  'formal-letter': ['letter', 'dear', 'application', 'apply', 'complaint', 'request', 'formal', 'resignation', 'inquiry', 'enquiry', 'position', 'landlord', 'employer', 'authority', 'refund', 'appeal'],
  marketing: ['product', 'sale', 'launch', 'offer', 'customers', 'customer', 'brand', 'marketing', 'discount', 'campaign', 'buy', 'shop', 'store', 'advert', 'slogan', 'newsletter'],
};

const wholeWords = (keywords: readonly string[]) => keywords.map((keyword) => new RegExp(`(?<!\\p{L})${keyword}(?!\\p{L})`, 'iu'));
const KEYWORD_PATTERNS: Record<TextStyle, readonly RegExp[]> = {
  greeting: wholeWords(KEYWORDS.greeting),
  'formal-letter': wholeWords(KEYWORDS['formal-letter']),
  marketing: wholeWords(KEYWORDS.marketing),
};

/** The style asked for, else the one whose keywords the prompt mentions most (a tie goes to the earlier in TEXT_STYLES; no keyword: a greeting). */
export function chooseTextStyle(style: string | undefined, prompt: string): TextStyle {
  if (style !== undefined && (TEXT_STYLES as readonly string[]).includes(style)) return style as TextStyle;
  let best: TextStyle = 'greeting';
  let bestScore = 0;
  for (const candidate of TEXT_STYLES) {
    const score = KEYWORD_PATTERNS[candidate].filter((pattern) => pattern.test(prompt)).length;
    if (score > bestScore) {
      best = candidate;
      bestScore = score;
    }
  }
  return best;
}

function capitalise(word: string): string {
  return word.charAt(0).toUpperCase() + word.slice(1);
}

/** `a`, `a and b`, `a, b and c`. */
function phrase(words: readonly string[]): string {
  if (words.length <= 1) return words[0] ?? '';
  return `${words.slice(0, -1).join(', ')} and ${words[words.length - 1]}`;
}

const OCCASIONS: ReadonlyArray<readonly [RegExp, string]> = [
  [/birthday/i, 'Happy birthday'],
  [/wedding|married/i, 'Congratulations on your wedding'],
  [/anniversary/i, 'Happy anniversary'],
  [/christmas/i, 'Merry Christmas'],
  [/new year/i, 'Happy New Year'],
  [/graduat/i, 'Congratulations, graduate'],
  [/retire/i, 'Happy retirement'],
  [/thank/i, 'Thank you'],
  [/get[ -]well|recover/i, 'Get well soon'],
];

function greeting(themes: readonly string[], prompt: string, random: SeededRandom): string {
  const occasion = OCCASIONS.find(([pattern]) => pattern.test(prompt))?.[1] ?? random.pick(['Warm greetings', 'Hello, and all the best', 'Best wishes']);
  const about = phrase(themes) || random.pick(['the days ahead', 'this season', 'everything to come']);
  const wishes = [
    `May ${about} bring you joy, laughter and a little bit of magic.`,
    `Thinking of you, and of ${about}, with a big smile today.`,
    `Here is to ${about}, and to many more bright days together.`,
    `Wishing you a day as wonderful as ${about} and as warm as good friends.`,
  ];
  const extras = [
    'Take a moment for yourself; you deserve it.',
    'Every good thing you give comes back to you.',
    'Let the small joys be loud today.',
    'The best is still on its way.',
  ];
  const closings = ['With love', 'Warmly', 'All the best', 'Cheers', 'With a hug'];
  return `${occasion}!\n\n${random.pick(wishes)} ${random.pick(extras)}\n\n${random.pick(closings)},\n[Your name]\n`;
}

function formalLetter(themes: readonly string[], random: SeededRandom): string {
  const subject = phrase(themes) || 'my recent enquiry';
  const openings = [
    `I am writing to you regarding ${subject}.`,
    `I am writing in connection with ${subject}.`,
    `Please allow me to address the matter of ${subject}.`,
  ];
  const bodies = [
    'I would be grateful if you could review the details and let me know how you intend to proceed.',
    'I believe a prompt resolution would be in the interest of both parties, and I remain available to provide any further information you may require.',
    'I have enclosed the relevant details and would appreciate your confirmation at your earliest convenience.',
  ];
  const requests = [
    'I look forward to your reply within fourteen days.',
    'Kindly confirm receipt of this letter and the next steps.',
    'Should you need anything further, please do not hesitate to contact me.',
  ];
  return (
    `Subject: ${capitalise(subject)}\n\nDear Sir or Madam,\n\n${random.pick(openings)} ${random.pick(bodies)}\n\n` +
    `${random.pick(requests)}\n\nThank you for your time and consideration.\n\nYours faithfully,\n[Your name]\n`
  );
}

function marketing(themes: readonly string[], random: SeededRandom): string {
  const product = phrase(themes) || 'something new';
  const headlines = [`Meet ${product}.`, `${capitalise(product)}, reimagined.`, `Say hello to ${product}.`, `Everyone is talking about ${product}.`];
  const taglines = ['Made for the way you live.', 'Simple. Bold. Yours.', 'Small change, big difference.', 'Designed to make every day better.'];
  const benefits = [
    'Ready in minutes, not hours',
    'Thoughtfully designed down to the last detail',
    'Built to last, priced to share',
    'Loved by early customers',
    'Kind to people and the planet',
    'Works the way you expect, every time',
  ];
  const calls = ['Try it today.', 'Discover more now.', 'Get yours while it lasts.', 'Join the first wave today.'];
  const chosen: string[] = [];
  while (chosen.length < 3) {
    const benefit = random.pick(benefits);
    if (!chosen.includes(benefit)) chosen.push(benefit);
  }
  return `${random.pick(headlines)}\n${random.pick(taglines)}\n\n${chosen.map((benefit) => `• ${benefit}`).join('\n')}\n\n${random.pick(calls)}\n`;
}

/**
 * A greeting, a formal letter or marketing copy about the prompt's words. The sender stays a
 * placeholder: the contractor never knows who asked.
 */
export function composeText(style: TextStyle, prompt: string, random: SeededRandom): string {
  // A greeting's occasion opens the card and an ad's "launch" or "sale" is the genre, not
  // the subject; a letter's "complaint" or "landlord" is its subject.
  const themes = style === 'formal-letter' ? themeWords(prompt) : themeWords(prompt, 3, (word) => KEYWORD_PATTERNS[style].some((pattern) => pattern.test(word)));
  switch (style) {
    case 'greeting':
      return greeting(themes, prompt, random);
    case 'formal-letter':
      return formalLetter(themes, random);
    case 'marketing':
      return marketing(themes, random);
  }
}
