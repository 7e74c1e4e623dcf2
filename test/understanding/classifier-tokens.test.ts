import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { IntentClassifier } from '../../src/cognitive/offline/classifier.js';
import { loadIntentsFile } from '../../src/cognitive/offline/intents.js';
import { lex } from '../../src/cognitive/offline/lexer.js';
import { Speller } from '../../src/cognitive/offline/speller.js';
import { QUICKSTART_INTENTS } from '../cognitive/helpers.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

/** Runs `body` (an ES module) in a fresh Node process with tsx and returns its stdout, parsed. */
function inFreshProcess(body: string): unknown {
  const dir = mkdtempSync(join(tmpdir(), 'dream-lazy-'));
  const file = join(dir, 'probe.mjs');
  writeFileSync(file, body);
  const out = execFileSync(process.execPath, ['--import', 'tsx', file], {
    cwd: root,
    encoding: 'utf8',
    timeout: 120_000,
  });
  return JSON.parse(out.trim().split('\n').at(-1) ?? 'null');
}

const probe = (entry: string, use: string): string => `
import { createRequire } from 'node:module';
const require = createRequire(import.meta.url);
const wink = () => Object.keys(require.cache).filter((k) => /[\\\\/]wink-(nlp|eng-lite-web-model)[\\\\/]/.test(k)).length;
const mod = await import(${JSON.stringify(join(root, entry))});
const afterImport = wink();
${use}
console.log(JSON.stringify({ afterImport, afterUse: wink() }));
`;

describe('wink-nlp is loaded only when used', () => {
  it('importing the root entry loads no wink module', () => {
    expect(inFreshProcess(probe('src/index.ts', ''))).toEqual({ afterImport: 0, afterUse: 0 });
  }, 150_000);

  it('dream-agent/offline loads it neither on import nor to classify, only when its Tokenizer runs', () => {
    const result = inFreshProcess(
      probe(
        'src/offline.ts',
        `const c = new mod.OfflineCognitive(${JSON.stringify(QUICKSTART_INTENTS)});
         c.classify('sales for EMEA last quarter');
         const beforeTokenizer = wink();
         if (beforeTokenizer !== 0) throw new Error('the classifier loaded wink');
         new mod.Tokenizer().tokens("what's up");`,
      ),
    ) as { afterImport: number; afterUse: number };
    expect(result.afterImport).toBe(0);
    // the positive control: the probe does see wink once something needs it
    expect(result.afterUse).toBeGreaterThan(0);
  }, 150_000);
});

describe('the classifier tokenizer', () => {
  it('gives the same tokens for the clean and the lower-cased, punctuation-free spelling', () => {
    const lemmas = (t: string): string[] => lex(t).map((x) => x.lemma);
    expect(lemmas("What's Tony's number?")).toEqual(lemmas('whats tonys number'));
    expect(lemmas("What's Tony's number?")).toEqual(['what', 'tony', 'number']);
    expect(lemmas("I don't see the reports")).toEqual(['i', 'do', 'not', 'see', 'the', 'report']);
    expect(lemmas('Café sales were 12.5 k in Q3')).toEqual(['cafe', 'sale', 'be', '<num>', 'k', 'in', 'q3']);
    expect(lex('mail bob@example.com').map((x) => x.type)).toEqual(['word', 'email']);
  });

  it('never throws and yields lower-case, non-empty tokens for any text (property)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 200 }), (text) => {
        const tokens = lex(text);
        expect(lex(text)).toEqual(tokens);
        for (const t of tokens) {
          expect(t.lemma.length).toBeGreaterThan(0);
          expect(t.normal).toBe(t.normal.toLowerCase());
        }
      }),
    );
  });
});

describe('spelling repair', () => {
  const words = ['what', 'is', 'my', 'balance', 'balance', 'transfer', 'money', 'to', 'savings', 'account'];
  const speller = new Speller([lex(words.join(' '))]);

  it('repairs a word one edit from a training word (two for long words), leaves known and short ones', () => {
    expect(speller.correct('balnce')).toBe('balance'); // deletion
    expect(speller.correct('balannce')).toBe('balance'); // doubled letter
    expect(speller.correct('blaance')).toBe('balance'); // swap
    expect(speller.correct('tranzfer')).toBe('transfer'); // substitution
    expect(speller.correct('acocuntt')).toBe('account'); // two edits, 8 letters
    expect(speller.correct('balance')).toBeUndefined();
    expect(speller.correct('mi')).toBeUndefined();
    expect(speller.correct('zebra')).toBeUndefined();
  });

  it('repairs doubled and undoubled letters to the word they belong to, before any one-edit neighbour', () => {
    // `nedd` is one substitution from both `nerd` (frequent here) and `need`, but only a doubled letter
    // away from `need`.
    const s = new Speller([lex('nerd nerd nerd need'), lex('too to')]);
    expect(s.correct('nedd')).toBe('need');
    expect(s.correct('neeed')).toBe('need');
    expect(s.correct('nnerdd')).toBe('nerd');
    expect(speller.correct('acccount')).toBe('account');
    expect(speller.correct('mooney')).toBe('money');
  });

  it('does not depend on the order of the training words (property)', () => {
    fc.assert(
      fc.property(
        fc.shuffledSubarray(words, { minLength: words.length, maxLength: words.length }),
        fc.stringMatching(/^[a-z]{3,9}$/),
        (order, query) => {
          expect(new Speller([lex(order.join(' '))]).correct(query)).toBe(speller.correct(query));
        },
      ),
    );
  });

  it('lets the classifier read a misspelt request like the clean one', () => {
    const file = loadIntentsFile(QUICKSTART_INTENTS);
    const examples = [
      ...file.intents.flatMap((i) => i.examples.map((text) => ({ text, label: i.name }))),
      ...file.oos.map((text) => ({ text, label: 'unknown' })),
    ];
    const withRepair = IntentClassifier.train(examples);
    const clean = withRepair.classify('show me the revenue trend for this year');
    const typo = withRepair.classify('shwo me teh revneue trned for tihs year');
    expect(typo.intent).toBe(clean.intent);
    expect(typo.intent).toBe('sales.trend');
    // and the repair is what makes the difference: without it, fewer misspelt requests are read right
    const without = IntentClassifier.train(examples, { spelling: false });
    const misspelt: [string, string][] = [
      ['shwo me teh revneue trned for tihs year', 'sales.trend'],
      ['compair emea adn apac lsat quarter', 'sales.compare'],
      ['emial the reprot to bob@example.com', 'report.email'],
      ['whcih prodcuts sold teh most', 'sales.top_products'],
      ['any unusuall spikse in salse', 'sales.anomalies'],
      ['slaes reprot for janaury', 'sales.report'],
      ['hwo did revenu chnage month by mnoth', 'sales.trend'],
      ['rnak the regoins by revneue', 'sales.top_products'],
    ];
    const right = (c: IntentClassifier): number =>
      misspelt.filter(([text, intent]) => c.classify(text).intent === intent).length;
    expect(right(withRepair)).toBeGreaterThan(right(without));
    expect(right(withRepair)).toBeGreaterThanOrEqual(6);
  });
});
