/**
 * The offline intent classifier: multinomial logistic regression over sparse TF-IDF features (word
 * lemmas, lemma bigrams and character n-grams), trained by SGD, with a softmax temperature calibrated
 * on held-out data so that `confidence` means what it says.
 *
 * @packageDocumentation
 */
import { DreamAgentError } from '../../errors/index.js';
import { lex } from './lexer.js';
import { Speller } from './speller.js';
import type { Token, Tokenizer } from './tokenize.js';

/** One labelled utterance. */
export interface TrainingExample {
  /** The utterance. */
  text: string;
  /** Its intent name (or the out-of-scope label). */
  label: string;
}

/** One entry of a {@link Classification} ranking. */
export interface RankedIntent {
  /** Intent name (or the out-of-scope label). */
  intent: string;
  /** Calibrated probability in [0, 1]. */
  confidence: number;
}

/** The classifier's answer for one utterance. */
export interface Classification {
  /** The most probable label (may be the out-of-scope label). */
  intent: string;
  /** Its calibrated probability in [0, 1]. */
  confidence: number;
  /** The most probable labels, best first (at most `topK`). */
  ranking: RankedIntent[];
}

/** Options of {@link IntentClassifier.train}. */
export interface ClassifierOptions {
  /**
   * Passes over the training set. Default: enough for about 100,000 steps, between 8 and 30 (8 for
   * CLINC150's 15,000 examples, 30 for a 100-example intents file).
   */
  epochs?: number;
  /** Largest step of a passive-aggressive update, the `C` of PA-I (default 1). */
  aggressiveness?: number;
  /** Seed of the shuffling PRNG, for reproducible models (default 1). */
  seed?: number;
  /**
   * Smallest and largest character n-gram length (default [3, 4]: on CLINC150's validation split
   * [3, 5] was half a point less accurate and 20% slower); `null` disables them.
   */
  charNgrams?: readonly [number, number] | null;
  /** Weight of the character block against the word block (default 1). */
  charWeight?: number;
  /**
   * Character n-grams and bigrams seen in fewer training examples than this are dropped (word unigrams
   * are always kept). Default: 1 per 5,000 examples, at least 1 — so a small intents file keeps every
   * n-gram and CLINC150 drops the ones seen fewer than 3 times, which cuts its features by half and its
   * training time by a third at no cost in accuracy.
   */
  minDf?: number;
  /**
   * Held-out examples used to calibrate the softmax temperature. When absent, the temperature is fitted
   * on cross-validated predictions of the training set (5 folds up to 3,000 examples, one held-out tenth
   * above), and the final model is then trained on everything.
   */
  calibration?: readonly TrainingExample[];
  /**
   * Repair words the training set never contained to the most frequent training word one edit away
   * (two for words of 7 letters or more), before featurising an utterance (default true). It keeps a
   * 10%-typo copy of CLINC150's test split within a few points of the clean one.
   */
  spelling?: boolean;
  /**
   * A wink-nlp {@link Tokenizer} whose POS-driven lemmas the features are built from instead of the
   * built-in tokenizer (default: the built-in one — pure, about 10× faster, and the same tokens for
   * `what's` and `whats`).
   */
  tokenizer?: Tokenizer;
}

/** A sparse, L2-normalised feature vector. */
interface SparseVector {
  idx: Int32Array;
  val: Float32Array;
}

interface ResolvedOptions {
  epochs: number;
  aggressiveness: number;
  seed: number;
  charRange: readonly [number, number] | null;
  charWeight: number;
  minDf: number;
  spelling: boolean;
}

/** Deterministic PRNG (mulberry32): the same seed gives the same model on every machine. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Raw feature counts of one utterance. Features are 32-bit FNV-1a hashes (computed without building
 * substrings: featurising is then allocation-light), in three kinds: lemma unigrams, lemma bigrams (with
 * a start marker, so `what is…` differs from `…is what`) and character n-grams of each normalised word,
 * padded with spaces so prefixes and suffixes differ (typo tolerance). At ~25,000 distinct features a
 * 32-bit collision is a rare, harmless event.
 */
interface RawFeatures {
  unigrams: Map<number, number>;
  bigrams: Map<number, number>;
  chars: Map<number, number>;
}

const FNV_OFFSET = 0x811c9dc5;
function fnvStep(h: number, code: number): number {
  return Math.imul(h ^ code, 0x01000193) >>> 0;
}
function fnvString(h: number, text: string): number {
  for (let i = 0; i < text.length; i++) h = fnvStep(h, text.charCodeAt(i));
  return h;
}
function bump(m: Map<number, number>, k: number): void {
  m.set(k, (m.get(k) ?? 0) + 1);
}

function rawFeatures(tokens: readonly Token[], cfg: ResolvedOptions, typed?: readonly Token[]): RawFeatures {
  const { charRange } = cfg;
  const out: RawFeatures = { unigrams: new Map(), bigrams: new Map(), chars: new Map() };
  let prev = fnvString(FNV_OFFSET ^ 2, '<s>');
  for (let ti = 0; ti < tokens.length; ti++) {
    const t = tokens[ti]!;
    const uni = fnvString(FNV_OFFSET ^ 1, t.lemma);
    bump(out.unigrams, uni);
    bump(out.bigrams, fnvStep(fnvString(fnvStep(prev, 32), t.lemma), 2));
    prev = fnvString(FNV_OFFSET ^ 2, t.lemma);
    if (charRange !== null && t.type !== 'number') {
      addChars(out.chars, t.normal, charRange[0], charRange[1]);
      // A repaired word keeps the n-grams of what was typed too: when the repair picked the wrong word,
      // the n-grams the typo left intact still point to the right one.
      const asTyped = typed?.[ti]?.normal;
      if (asTyped !== undefined && asTyped !== t.normal)
        addChars(out.chars, asTyped, charRange[0], charRange[1]);
    }
  }
  return out;
}

/** Counts the character n-grams (lengths min…max) of `w` padded with a space on each side. */
function addChars(chars: Map<number, number>, w: string, min: number, max: number): void {
  const len = w.length + 2;
  for (let i = 0; i + min <= len; i++) {
    let h = FNV_OFFSET ^ 3;
    for (let n = 1; n <= max && i + n <= len; n++) {
      const at = i + n - 1;
      h = fnvStep(h, at === 0 || at === len - 1 ? 32 : w.charCodeAt(at - 1));
      if (n >= min) bump(chars, h);
    }
  }
}

/** The vocabulary and IDF weights learnt from the training set. */
class Featurizer {
  readonly index = new Map<number, number>();
  idf: Float32Array = new Float32Array(0);
  constructor(
    readonly tokenize: (text: string) => Token[],
    readonly cfg: ResolvedOptions,
    readonly speller: Speller | undefined,
  ) {}

  /** Builds the vocabulary and IDF; bigrams and n-grams seen in fewer than `minDf` examples are dropped. */
  fit(raws: readonly RawFeatures[], minDf: number): void {
    const df: number[] = [];
    const count = (pick: (r: RawFeatures) => Map<number, number>, min: number): void => {
      const counts = new Map<number, number>();
      for (const r of raws) for (const key of pick(r).keys()) counts.set(key, (counts.get(key) ?? 0) + 1);
      for (const [key, d] of counts) {
        if (d < min || this.index.has(key)) continue;
        this.index.set(key, df.length);
        df.push(d);
      }
    };
    count((r) => r.unigrams, 1);
    count((r) => r.bigrams, minDf);
    count((r) => r.chars, minDf);
    const n = raws.length;
    this.idf = Float32Array.from(df, (d) => Math.log((1 + n) / (1 + d)) + 1);
  }

  /** Tokenises and extracts raw features. */
  raw(text: string): RawFeatures {
    const tokens = this.tokenize(text);
    return rawFeatures(this.speller === undefined ? tokens : this.speller.repair(tokens), this.cfg, tokens);
  }

  /** Sublinear TF × IDF, each block L2-normalised and weighted, the whole L2-normalised. */
  vector(raw: RawFeatures): SparseVector {
    const blocks = [[raw.unigrams, raw.bigrams], [raw.chars]];
    const idx: number[] = [];
    const val: number[] = [];
    let total = 0;
    blocks.forEach((maps, b) => {
      const start = idx.length;
      let norm = 0;
      for (const block of maps) {
        for (const [key, count] of block) {
          const i = this.index.get(key);
          if (i === undefined) continue;
          const v = (1 + Math.log(count)) * this.idf[i]!;
          idx.push(i);
          val.push(v);
          norm += v * v;
        }
      }
      if (norm === 0) return;
      const scale = (b === 0 ? 1 : this.cfg.charWeight) / Math.sqrt(norm);
      for (let j = start; j < val.length; j++) {
        const v = (val[j] ?? 0) * scale;
        val[j] = v;
        total += v * v;
      }
    });
    const inv = total > 0 ? 1 / Math.sqrt(total) : 0;
    return { idx: Int32Array.from(idx), val: Float32Array.from(val, (v) => v * inv) };
  }
}

/**
 * Fits the softmax temperature T minimising the negative log-likelihood of held-out logits (Guo et al.
 * 2017, "On calibration of modern neural networks"). The NLL is convex in β = 1/T, so a safeguarded
 * Newton iteration converges in a handful of passes.
 */
function fitTemperature(logits: readonly Float64Array[], gold: readonly number[]): number {
  let beta = 1;
  let lo = 1e-3;
  let hi = 1e3;
  for (let it = 0; it < 30; it++) {
    let grad = 0;
    let hess = 0;
    logits.forEach((z, r) => {
      let max = -Infinity;
      for (const v of z) if (v > max) max = v;
      let s = 0;
      let m1 = 0;
      let m2 = 0;
      for (const v of z) {
        const e = Math.exp(beta * (v - max));
        s += e;
        m1 += e * v;
        m2 += e * v * v;
      }
      const mean = m1 / s;
      grad += mean - (z[gold[r] ?? 0] ?? 0);
      hess += Math.max(0, m2 / s - mean * mean);
    });
    if (grad > 0) hi = beta;
    else lo = beta;
    let next = hess > 1e-12 ? beta - grad / hess : NaN;
    if (!(next > lo && next < hi)) next = Math.sqrt(lo * hi);
    if (Math.abs(next - beta) < 1e-6 * beta) {
      beta = next;
      break;
    }
    beta = next;
  }
  return 1 / beta;
}

/** The trained weights of a linear model (feature-major: row f holds the weights of every class). */
interface LinearModel {
  weights: Float32Array;
  bias: Float64Array;
}

/** Margin above which an example is skipped by shrinking (1 = it caused no update when last seen). */
const SHRINK_MARGIN = 1.05;
/** Consecutive epochs an example may be skipped before it is checked again. */
const SHRINK_EPOCHS = 5;

/**
 * `scores += v · w[base … base + classes)`, unrolled by four: V8 does not vectorise, and the unrolled
 * loop runs 2–3× faster than the plain one. This is the hot loop of training and classification.
 */
function addScaledRow(scores: Float64Array, w: Float32Array, base: number, v: number, classes: number): void {
  let c = 0;
  for (; c + 3 < classes; c += 4) {
    const o = base + c;
    scores[c] = scores[c]! + v * w[o]!;
    scores[c + 1] = scores[c + 1]! + v * w[o + 1]!;
    scores[c + 2] = scores[c + 2]! + v * w[o + 2]!;
    scores[c + 3] = scores[c + 3]! + v * w[o + 3]!;
  }
  for (; c < classes; c++) scores[c] = scores[c]! + v * w[base + c]!;
}

/**
 * Trains a multiclass linear model with the averaged passive-aggressive algorithm (PA-I, Crammer et al.
 * 2006, max-loss variant): for each example, if the gold class does not beat the best rival by a margin
 * of 1, move both by the smallest step that would fix it (capped by the aggressiveness C). The returned
 * weights are the average over all steps, which generalises like a regularised SVM.
 *
 * Why not softmax regression: its gradient touches every class on every example, which made training on
 * CLINC150 (151 classes) 3–4× slower for a slightly lower accuracy; PA touches two classes per mistake.
 */
function trainLinear(
  xs: readonly SparseVector[],
  ys: readonly number[],
  features: number,
  classes: number,
  o: ResolvedOptions,
): LinearModel {
  const w = new Float32Array(features * classes);
  const bias = new Float64Array(classes);
  // `avg` accumulates t·Δ; the averaged weights are w − avg / (t + 1) (Daumé's trick: O(nnz) per step).
  const avg = new Float32Array(features * classes);
  const avgBias = new Float64Array(classes);
  const scores = new Float64Array(classes);
  const n = xs.length;
  const order = new Int32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  const random = mulberry32(o.seed);
  // Shrinking (as in LIBLINEAR): an example that cleared the margin when last seen is skipped for up to
  // SHRINK_EPOCHS epochs — it would most likely cause no update — then checked again.
  const margins = new Float64Array(n).fill(-Infinity);
  const skipped = new Uint8Array(n);
  const C = o.aggressiveness;
  let t = 0;
  for (let epoch = 0; epoch < o.epochs; epoch++) {
    for (let i = n - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      const tmp = order[i]!;
      order[i] = order[j]!;
      order[j] = tmp;
    }
    for (let p = 0; p < n; p++) {
      const r = order[p]!;
      t++;
      if (margins[r]! > SHRINK_MARGIN && skipped[r]! < SHRINK_EPOCHS) {
        skipped[r] = skipped[r]! + 1;
        continue;
      }
      skipped[r] = 0;
      const x = xs[r]!;
      const idx = x.idx;
      const val = x.val;
      const y = ys[r]!;
      const nnz = idx.length;
      scores.set(bias);
      for (let k = 0; k < nnz; k++) addScaledRow(scores, w, idx[k]! * classes, val[k]!, classes);
      let rival = -1;
      let best = -Infinity;
      for (let c = 0; c < classes; c++) {
        const sc = scores[c]!;
        if (c !== y && sc > best) {
          best = sc;
          rival = c;
        }
      }
      const margin = scores[y]! - best;
      margins[r] = margin;
      const loss = 1 - margin;
      if (rival < 0 || loss <= 0) continue;
      // ‖x‖² = 1 (features are L2-normalised) plus 1 for the bias; two classes move, hence 2·2.
      const tau = Math.min(C, loss / 4);
      const ta = t * tau;
      bias[y] = bias[y]! + tau;
      bias[rival] = bias[rival]! - tau;
      avgBias[y] = avgBias[y]! + ta;
      avgBias[rival] = avgBias[rival]! - ta;
      for (let k = 0; k < nnz; k++) {
        const base = idx[k]! * classes;
        const v = val[k]!;
        const dv = tau * v;
        const da = ta * v;
        w[base + y] = w[base + y]! + dv;
        w[base + rival] = w[base + rival]! - dv;
        avg[base + y] = avg[base + y]! + da;
        avg[base + rival] = avg[base + rival]! - da;
      }
    }
  }
  const inv = 1 / (t + 1);
  for (let i = 0; i < w.length; i++) w[i] = w[i]! - avg[i]! * inv;
  for (let c = 0; c < classes; c++) bias[c] = bias[c]! - avgBias[c]! * inv;
  return { weights: w, bias };
}

/** Logits of one vector. */
function logitsOf(m: LinearModel, x: SparseVector, classes: number): Float64Array {
  const z = Float64Array.from(m.bias);
  const { idx, val } = x;
  for (let k = 0; k < idx.length; k++) addScaledRow(z, m.weights, idx[k]! * classes, val[k]!, classes);
  return z;
}

function resolve(options: ClassifierOptions, n: number): ResolvedOptions {
  const o: ResolvedOptions = {
    epochs: options.epochs ?? Math.min(30, Math.max(8, Math.ceil(100_000 / Math.max(1, n)))),
    aggressiveness: options.aggressiveness ?? 1,
    seed: options.seed ?? 1,
    charRange: options.charNgrams === undefined ? [3, 4] : options.charNgrams,
    charWeight: options.charWeight ?? 1,
    minDf: options.minDf ?? Math.max(1, Math.round(n / 5000)),
    spelling: options.spelling ?? true,
  };
  const bad = (name: string, value: unknown): never => {
    throw new DreamAgentError(
      'INVALID_INPUT',
      `classifier option ${name} is invalid: ${JSON.stringify(value)}`,
      {
        details: { option: name, value },
      },
    );
  };
  if (!Number.isInteger(o.epochs) || o.epochs < 1) bad('epochs', o.epochs);
  if (!(o.aggressiveness > 0) || !Number.isFinite(o.aggressiveness)) bad('aggressiveness', o.aggressiveness);
  if (!Number.isInteger(o.seed)) bad('seed', o.seed);
  if (!(o.charWeight >= 0) || !Number.isFinite(o.charWeight)) bad('charWeight', o.charWeight);
  if (!Number.isInteger(o.minDf) || o.minDf < 1) bad('minDf', o.minDf);
  const r = o.charRange;
  if (
    r !== null &&
    !(Number.isInteger(r[0]) && Number.isInteger(r[1]) && r[0] >= 1 && r[1] >= r[0] && r[1] <= 8)
  ) {
    bad('charNgrams', r);
  }
  return o;
}

/**
 * A trained intent classifier. Create one with {@link IntentClassifier.train}; classification is
 * synchronous, allocation-light and takes tens of microseconds.
 *
 * @example
 * ```ts
 * const clf = IntentClassifier.train([
 *   { text: 'show me sales for last quarter', label: 'sales.report' },
 *   { text: 'hello there', label: 'greeting' },
 * ]);
 * clf.classify('sales last month?').intent; // 'sales.report'
 * ```
 */
export class IntentClassifier {
  /** The labels the model knows, in model order. */
  readonly labels: readonly string[];
  /** The softmax temperature fitted on held-out data (confidence = softmax(logits / temperature)). */
  readonly temperature: number;
  readonly #featurizer: Featurizer;
  readonly #model: LinearModel;

  private constructor(
    labels: readonly string[],
    temperature: number,
    featurizer: Featurizer,
    model: LinearModel,
  ) {
    this.labels = labels;
    this.temperature = temperature;
    this.#featurizer = featurizer;
    this.#model = model;
  }

  /**
   * Trains a classifier.
   *
   * @param examples - labelled utterances (at least two labels)
   * @param options - see {@link ClassifierOptions}
   * @returns the trained classifier
   * @throws DreamAgentError `INVALID_INPUT` when fewer than two labels are given or an option is invalid
   */
  static train(examples: readonly TrainingExample[], options: ClassifierOptions = {}): IntentClassifier {
    const o = resolve(options, examples.length);
    const labels = [...new Set(examples.map((e) => e.label))];
    if (labels.length < 2) {
      throw new DreamAgentError(
        'INVALID_INPUT',
        `a classifier needs at least two labels, got ${labels.length}`,
        {
          details: { labels },
        },
      );
    }
    const shared = options.tokenizer;
    const tokenize =
      shared === undefined ? (text: string) => lex(text) : (text: string) => shared.tokens(text);
    const labelIndex = new Map(labels.map((l, i) => [l, i]));
    const fitOn = (
      train: readonly RawFeatures[],
      ys: readonly number[],
    ): { featurizer: Featurizer; model: LinearModel } => {
      const featurizer = new Featurizer(tokenize, o, speller);
      featurizer.fit(train, o.minDf);
      const xs = train.map((r) => featurizer.vector(r));
      return { featurizer, model: trainLinear(xs, ys, featurizer.index.size, labels.length, o) };
    };
    const tokenLists = examples.map((e) => tokenize(e.text));
    const speller = o.spelling ? new Speller(tokenLists) : undefined;
    const raws = tokenLists.map((t) => rawFeatures(t, o));
    const ys = examples.map((e) => labelIndex.get(e.label) ?? 0);

    // Held-out logits for the temperature.
    const heldLogits: Float64Array[] = [];
    const heldGold: number[] = [];
    let final: { featurizer: Featurizer; model: LinearModel } | undefined;
    const calibration = options.calibration?.filter((e) => labelIndex.has(e.label));
    if (calibration !== undefined && calibration.length > 0) {
      final = fitOn(raws, ys);
      const f = final;
      for (const e of calibration) {
        heldLogits.push(logitsOf(f.model, f.featurizer.vector(f.featurizer.raw(e.text)), labels.length));
        heldGold.push(labelIndex.get(e.label) ?? 0);
      }
    } else {
      // Stratified folds: every fold holds out some of every label that has ≥ 2 examples.
      const folds = examples.length <= 3000 ? 5 : 10;
      const rounds = examples.length <= 3000 ? folds : 1;
      const fold = new Int32Array(examples.length);
      const seen = new Map<number, number>();
      const random = mulberry32(o.seed + 7);
      const offset = Math.floor(random() * folds);
      ys.forEach((y, i) => {
        const k = seen.get(y) ?? 0;
        seen.set(y, k + 1);
        fold[i] = (k + offset + y) % folds;
      });
      for (let f = 0; f < rounds; f++) {
        const trainIdx: number[] = [];
        const testIdx: number[] = [];
        fold.forEach((k, i) => (k === f ? testIdx : trainIdx).push(i));
        if (testIdx.length === 0 || trainIdx.length === 0) continue;
        const part = fitOn(
          trainIdx.map((i) => raws[i]!),
          trainIdx.map((i) => ys[i] ?? 0),
        );
        for (const i of testIdx) {
          heldLogits.push(logitsOf(part.model, part.featurizer.vector(raws[i]!), labels.length));
          heldGold.push(ys[i] ?? 0);
        }
      }
      final = fitOn(raws, ys);
    }
    const temperature = heldLogits.length > 0 ? fitTemperature(heldLogits, heldGold) : 1;
    return new IntentClassifier(labels, temperature, final.featurizer, final.model);
  }

  /**
   * Classifies one utterance. Never throws; an empty or meaningless input gives a flat distribution.
   *
   * @param text - the utterance
   * @param topK - how many labels to rank (default 5)
   * @returns the best label, its calibrated confidence and the ranking
   */
  classify(text: string, topK = 5): Classification {
    const z = this.logits(text);
    const classes = this.labels.length;
    let max = -Infinity;
    for (let c = 0; c < classes; c++) if ((z[c] ?? 0) > max) max = z[c] ?? 0;
    let sum = 0;
    for (let c = 0; c < classes; c++) {
      const e = Math.exp(((z[c] ?? 0) - max) / this.temperature);
      z[c] = e;
      sum += e;
    }
    const ranking: RankedIntent[] = [];
    const k = Math.max(1, Math.min(topK, classes));
    for (let c = 0; c < classes; c++) {
      const confidence = clamp01((z[c] ?? 0) / sum);
      if (ranking.length < k || confidence > (ranking[ranking.length - 1]?.confidence ?? 0)) {
        ranking.push({ intent: this.labels[c] ?? '', confidence });
        ranking.sort((a, b) => b.confidence - a.confidence);
        if (ranking.length > k) ranking.pop();
      }
    }
    const best = ranking[0] ?? { intent: this.labels[0] ?? '', confidence: 0 };
    return { intent: best.intent, confidence: best.confidence, ranking };
  }

  /**
   * Raw (uncalibrated) class scores of one utterance, in {@link IntentClassifier.labels} order.
   *
   * @param text - the utterance
   * @returns one logit per label
   */
  logits(text: string): Float64Array {
    const f = this.#featurizer;
    return logitsOf(this.#model, f.vector(f.raw(text)), this.labels.length);
  }

  /**
   * A snapshot of the trained model as text: labels, temperature, vocabulary (feature hash → index),
   * IDF weights, weights and biases (little-endian floats, base64). Two trainings on the same data with
   * the same options give the same string, whatever the process read in between.
   *
   * @returns the model as a JSON string
   * @example
   * ```ts
   * IntentClassifier.train(examples).serialize() === IntentClassifier.train(examples).serialize(); // true
   * ```
   */
  serialize(): string {
    const f = this.#featurizer;
    const b64 = (a: Float32Array | Float64Array): string =>
      Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('base64');
    return JSON.stringify({
      version: 1,
      labels: this.labels,
      temperature: this.temperature,
      options: f.cfg,
      vocabulary: [...f.index.entries()],
      words: f.speller?.words ?? [],
      idf: b64(f.idf),
      weights: b64(this.#model.weights),
      bias: b64(this.#model.bias),
    });
  }

  /** Number of distinct features in the vocabulary. */
  get vocabularySize(): number {
    return this.#featurizer.index.size;
  }
}

function clamp01(v: number): number {
  return Number.isFinite(v) ? Math.min(1, Math.max(0, v)) : 0;
}
