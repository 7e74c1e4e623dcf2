import { describe, expect, it } from 'vitest';
import { IntentClassifier } from '../../src/cognitive/offline/classifier.js';
import { loadIntentsFile } from '../../src/cognitive/offline/intents.js';
import { Tokenizer } from '../../src/cognitive/offline/tokenize.js';
import { QUICKSTART_INTENTS } from './helpers.js';

const file = loadIntentsFile(QUICKSTART_INTENTS);
const examples = [
  ...file.intents.flatMap((i) => i.examples.map((text) => ({ text, label: i.name }))),
  ...file.oos.map((text) => ({ text, label: 'unknown' })),
];
/** Text that used to teach the shared wink lexicon new words ("tony's" read whole afterwards). */
const noise = [
  "does tony's in downton let you make reservations",
  "what's tony's number, isn't it 555",
  "we'll see if they've booked o'neill's",
  'zorblax flimflammed the quux-o-matic 3000',
];

describe('classifier determinism', () => {
  it('tokenises an utterance the same way whatever the process read before', () => {
    const t = new Tokenizer();
    const before = noise.map((n) => JSON.stringify(t.tokens(n)));
    for (let i = 0; i < 3; i++) for (const n of noise) t.tokens(`${n} ${n}. ${n.toUpperCase()}`);
    expect(noise.map((n) => JSON.stringify(t.tokens(n)))).toEqual(before);
    expect(t.tokens("tony's").map((x) => x.normal)).toEqual(['tony', "'s"]);
  });

  it('training twice with the same seed gives byte-identical models, with other traffic in between', () => {
    const a = IntentClassifier.train(examples, { seed: 7 }).serialize();
    const t = new Tokenizer();
    for (const n of noise) t.tokens(n);
    const b = IntentClassifier.train(examples, { seed: 7 }).serialize();
    expect(b).toBe(a);
    expect(a.length).toBeGreaterThan(1000);
    // and another seed gives another model (the seed is really used)
    expect(IntentClassifier.train(examples, { seed: 8 }).serialize()).not.toBe(a);
  });
});
