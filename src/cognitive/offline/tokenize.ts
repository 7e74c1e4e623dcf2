/**
 * Tokenisation for the offline Cognitive layer, on top of wink-nlp and its English lite model (which ships
 * inside the npm package and works offline).
 *
 * wink-nlp and its model are required lazily, on the first call that needs them, and shared by every
 * tokenizer in the process: importing this module (or `dream-agent/offline`) loads neither. The intent
 * classifier does not use them at all (it has its own tokenizer, `lexer.ts`); the {@link Tokenizer}
 * here serves the hashing embedder of the context memory and callers who want wink's lemmas.
 *
 * @packageDocumentation
 */
import { createRequire } from 'node:module';
import type { ItsFunction, WinkMethods } from 'wink-nlp';
import type winkNLPType from 'wink-nlp';
import type modelType from 'wink-eng-lite-web-model';
import { DreamAgentError } from '../../errors/index.js';

/** One token of the input. */
export interface Token {
  /** Normalised form: lower case, contractions expanded (`what's` → `what`, `is`). */
  normal: string;
  /** Lemma (`reports` → `report`, `was` → `be`); numbers become `<num>`. */
  lemma: string;
  /** wink's token type: `word`, `number`, `email`, `currency`, `punctuation`, `symbol`, … */
  type: string;
  /** Whether it is an English stop word (`the`, `to`, `what`…). */
  stop: boolean;
}

/** Token types that carry no meaning for intent classification. */
const SKIPPED_TYPES: ReadonlySet<string> = new Set(['punctuation', 'tabCRLF', 'emoji', 'emoticon']);

let shared: WinkMethods | undefined;

/**
 * Returns the process-wide wink-nlp instance, creating it (≈80 ms, once) on first use. Only the POS
 * tagger is enabled: lemmas need it, sentence boundaries, NER and sentiment are not used here.
 */
function nlp(): WinkMethods {
  if (shared !== undefined) return shared;
  const require = createRequire(import.meta.url);
  let winkNLP: typeof winkNLPType;
  let model: typeof modelType;
  try {
    winkNLP = require('wink-nlp') as typeof winkNLPType;
    model = require('wink-eng-lite-web-model') as typeof modelType;
  } catch (cause) {
    throw new DreamAgentError(
      'UNAVAILABLE',
      'the offline Tokenizer needs the optional peers wink-nlp and wink-eng-lite-web-model: npm install wink-nlp wink-eng-lite-web-model',
      { cause },
    );
  }
  shared = winkNLP(model, ['pos']);
  return shared;
}

/**
 * Puts a space before clitics (`tony's` → `tony 's`, `isn't` → `is n't`). wink-nlp's lexicon is shared
 * by the process and learns words as it reads them: once some text had made it take `tony's` as one
 * word, every later `tony's` stayed whole, so the same utterance was tokenised — and classified —
 * differently depending on what the process had read before (training twice gave two models). Split
 * here, a clitic never reaches wink attached to its word, and tokenisation depends on the text alone.
 */
function detach(text: string): string {
  return text.replace(/([\p{L}\p{N}])(['’](?:s|re|ve|ll|d|m|t)|n['’]t)\b/giu, '$1 $2');
}

/** Options of the {@link Tokenizer}. */
export interface TokenizerOptions {
  /** Largest number of characters read from one input (longer text is cut; default 2,000). */
  maxLength?: number;
}

/**
 * Splits text into normalised, lemmatised tokens with wink-nlp.
 *
 * Stop words are kept and flagged, not dropped: in short commands they carry intent (`what is` asks,
 * `set` acts, `not` negates), so the classifier keeps them and lets IDF weigh them down.
 *
 * @example
 * ```ts
 * new Tokenizer().tokens("What's last quarter's revenue?").map((t) => t.lemma);
 * // ['what', 'be', 'last', 'quarter', "'s", 'revenue']
 * ```
 */
export class Tokenizer {
  readonly #maxLength: number;

  /**
   * @param options - see {@link TokenizerOptions}
   */
  constructor(options: TokenizerOptions = {}) {
    this.#maxLength = options.maxLength ?? 2000;
  }

  /**
   * Tokenises `text`. Never throws for any string; punctuation and whitespace are dropped.
   *
   * @param text - any text
   * @returns the tokens, in order
   */
  tokens(text: string): Token[] {
    const clipped = text.length > this.#maxLength ? text.slice(0, this.#maxLength) : text;
    if (clipped.trim() === '') return [];
    const w = nlp();
    const its = w.its;
    const toks = w.readDoc(detach(clipped)).tokens();
    const normals = toks.out(its.normal) as string[];
    // wink's typings declare `its.lemma` with the model-addons parameter it receives at run time.
    const lemmas = toks.out(its.lemma as unknown as ItsFunction<string>) as string[];
    const types = toks.out(its.type) as string[];
    const stops = toks.out(its.stopWordFlag) as boolean[];
    const out: Token[] = [];
    for (let i = 0; i < normals.length; i++) {
      const type = types[i] ?? 'word';
      if (SKIPPED_TYPES.has(type)) continue;
      const normal = normals[i] ?? '';
      if (normal.trim() === '') continue;
      const lemma = type === 'number' ? '<num>' : (lemmas[i] ?? normal).toLowerCase();
      out.push({ normal, lemma, type, stop: stops[i] === true });
    }
    return out;
  }

  /**
   * The lemmas of `text`, without stop words: what a human would call its keywords.
   *
   * @param text - any text
   * @returns the content lemmas
   */
  keywords(text: string): string[] {
    return this.tokens(text)
      .filter((t) => !t.stop && t.type !== 'symbol')
      .map((t) => t.lemma);
  }
}

/**
 * Character n-grams of one word, padded with spaces so that prefixes and suffixes are distinct
 * (`sales`, 3..4 → ` sa`, `sal`, … , `les `, ` sal`, …). They make features tolerant to typos: `slaes`
 * still shares ` sa`, `es ` and more with `sales`.
 *
 * @param word - one token
 * @param min - smallest n (≥ 1)
 * @param max - largest n
 * @returns the n-grams (with repeats)
 */
export function charNgrams(word: string, min: number, max: number): string[] {
  const padded = ` ${word} `;
  const out: string[] = [];
  for (let n = min; n <= max; n++) {
    if (padded.length < n) break;
    for (let i = 0; i + n <= padded.length; i++) out.push(padded.slice(i, i + n));
  }
  return out;
}

/**
 * Removes accents and folds text to lower case (`Café` → `cafe`), used by gazetteer matching.
 *
 * @param text - any text
 * @returns the folded text
 */
export function fold(text: string): string {
  return text
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase();
}
