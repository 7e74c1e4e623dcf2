/**
 * The classifier's own tokenizer: pure functions of the text, no model, no state, no dependency.
 *
 * wink-nlp's POS-driven lemmas cost about 60 µs per utterance (a third of CLINC150's training time),
 * load a 4.7 MB model and were never robust to the way people type: `whats`, `dont` and `tonys` are
 * different words from `what's`, `don't` and `tony's` to it. Here apostrophes are dropped before
 * splitting, so the clean and the lower-cased, punctuation-free spellings of a request give the same
 * tokens, and a small rule-based lemmatizer (irregular forms, plural and third-person `-s`) does the part
 * of lemmatization that matters to a bag-of-words classifier; character n-grams cover the rest.
 *
 * @packageDocumentation
 */
import type { Token } from './tokenize.js';

/** Irregular forms whose lemma a suffix rule cannot find. */
const IRREGULAR: Readonly<Record<string, string>> = {
  am: 'be',
  are: 'be',
  is: 'be',
  was: 'be',
  were: 'be',
  been: 'be',
  being: 'be',
  im: 'i',
  ive: 'i',
  youre: 'you',
  youve: 'you',
  youll: 'you',
  theyre: 'they',
  whats: 'what',
  thats: 'that',
  theres: 'there',
  heres: 'here',
  hows: 'how',
  wheres: 'where',
  whos: 'who',
  lets: 'let',
  has: 'have',
  had: 'have',
  having: 'have',
  does: 'do',
  did: 'do',
  done: 'do',
  doing: 'do',
  dont: 'do not',
  doesnt: 'do not',
  didnt: 'do not',
  cant: 'can not',
  cannot: 'can not',
  wont: 'will not',
  isnt: 'be not',
  arent: 'be not',
  wasnt: 'be not',
  werent: 'be not',
  havent: 'have not',
  hasnt: 'have not',
  shouldnt: 'should not',
  wouldnt: 'would not',
  couldnt: 'could not',
  went: 'go',
  gone: 'go',
  goes: 'go',
  got: 'get',
  gotten: 'get',
  made: 'make',
  paid: 'pay',
  spent: 'spend',
  sent: 'send',
  told: 'tell',
  said: 'say',
  took: 'take',
  taken: 'take',
  found: 'find',
  lost: 'lose',
  bought: 'buy',
  sold: 'sell',
  left: 'leave',
  gave: 'give',
  given: 'give',
  knew: 'know',
  known: 'know',
  saw: 'see',
  seen: 'see',
  came: 'come',
  became: 'become',
  thought: 'think',
  brought: 'bring',
  booked: 'book',
  ate: 'eat',
  eaten: 'eat',
  wrote: 'write',
  written: 'write',
  ran: 'run',
  flew: 'fly',
  flown: 'fly',
  broke: 'break',
  broken: 'break',
  stolen: 'steal',
  stole: 'steal',
  forgot: 'forget',
  forgotten: 'forget',
  children: 'child',
  people: 'person',
  men: 'man',
  women: 'woman',
  feet: 'foot',
  teeth: 'tooth',
  mice: 'mouse',
  better: 'good',
  best: 'good',
  worse: 'bad',
  worst: 'bad',
};

/** Words ending in `s` that are not plurals (kept whole). */
const KEEP_S: ReadonlySet<string> = new Set([
  'this',
  'his',
  'its',
  'yes',
  'us',
  'plus',
  'minus',
  'bus',
  'gas',
  'bonus',
  'status',
  'virus',
  'campus',
  'census',
  'focus',
  'always',
  'perhaps',
  'series',
  'species',
  'news',
  'christmas',
  'analysis',
  'basis',
  'thesis',
  'crisis',
  'atlas',
  'canvas',
  'alias',
  'chaos',
  'kudos',
  'lens',
  'mars',
  'texas',
  'paris',
  'vegas',
  'whereas',
  'sometimes',
  'towards',
  'besides',
  'various',
  'previous',
  'famous',
  'serious',
  'nervous',
  'delicious',
  'jealous',
  'dangerous',
  'generous',
]);

/** English function words, flagged (not dropped) like wink-nlp's stop words. */
const STOP: ReadonlySet<string> = new Set(
  (
    'a an the and or but if then so of to in on at by for with from about as into over under up down out off ' +
    'i me my we our you your he him his she her it its they them their this that these those there here ' +
    'be am is are was were been being have has had do does did will would shall should can could may might must ' +
    'what which who whom whose when where why how not no nor all any both each few more most other some such ' +
    'only own same than too very just also please'
  ).split(' '),
);

/** `-ies` → `-y`, `-sses` → `-ss`, `-xes`/`-ches`/`-shes` → drop `es`, other plural `-s` dropped. */
function stripPlural(w: string): string {
  if (w.length <= 3 || !w.endsWith('s') || KEEP_S.has(w)) return w;
  if (w.endsWith('ss') || w.endsWith('us') || w.endsWith('is')) return w;
  if (w.endsWith('ies') && w.length > 4) return `${w.slice(0, -3)}y`;
  if (/(?:ch|sh|x|z|ss)es$/.test(w)) return w.slice(0, -2);
  return w.slice(0, -1);
}

/**
 * The lemma of one lower-cased word (no apostrophes): an irregular form, else its plural or
 * third-person `-s` removed.
 *
 * @param word - a lower-case word
 * @returns its lemma (may hold a space for contractions: `dont` → `do not`)
 */
export function lemmaOf(word: string): string {
  return IRREGULAR[word] ?? stripPlural(word);
}

const TOKEN_RE =
  /[\p{L}\p{N}._%+-]+@[\p{L}\p{N}-]+(?:\.[\p{L}\p{N}-]+)+|\p{N}+(?:[.,:]\p{N}+)*|[\p{L}\p{M}][\p{L}\p{M}\p{N}]*|[$€£¥%#&+=<>/*@]/gu;

/**
 * Splits text into tokens with the fields of {@link Token}, without wink-nlp: lower case, accents and
 * apostrophes removed, numbers as `<num>`, punctuation dropped. Pure: the output depends on the text
 * (and `maxLength`) alone.
 *
 * @param text - any text
 * @param maxLength - characters read at most (longer text is cut)
 * @returns the tokens, in order
 * @example
 * ```ts
 * lex("What's Tony's number?").map((t) => t.lemma); // ['what', 'tony', 'number']
 * ```
 */
export function lex(text: string, maxLength = 2000): Token[] {
  const clipped = text.length > maxLength ? text.slice(0, maxLength) : text;
  const folded = clipped
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/['’`´]/g, '');
  const out: Token[] = [];
  for (const m of folded.matchAll(TOKEN_RE)) {
    const s = m[0];
    const c = s.charCodeAt(0);
    if (c >= 48 && c <= 57) {
      out.push({ normal: s, lemma: '<num>', type: 'number', stop: false });
    } else if (s.includes('@') && s.length > 1) {
      out.push({ normal: s, lemma: s, type: 'email', stop: false });
    } else if (s.length === 1 && !/[\p{L}\p{N}]/u.test(s)) {
      out.push({ normal: s, lemma: s, type: 'symbol', stop: false });
    } else {
      const lemma = lemmaOf(s);
      if (lemma.includes(' ')) {
        for (const part of lemma.split(' '))
          out.push({ normal: part, lemma: part, type: 'word', stop: true });
      } else {
        out.push({ normal: s, lemma, type: 'word', stop: STOP.has(s) });
      }
    }
  }
  return out;
}
