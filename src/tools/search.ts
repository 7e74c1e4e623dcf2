/**
 * Lexical tool search: BM25 over names, tags and descriptions (names weigh most). It is the default
 * behind `ToolRegistry.search`; with an Embedder and a VectorStore configured the registry searches by
 * meaning instead and falls back to this when the vector path fails.
 *
 * @packageDocumentation
 */
import type { ToolHandle, ToolSearchHit } from './types.js';

const STOPWORDS = new Set([
  'a',
  'an',
  'and',
  'the',
  'of',
  'for',
  'to',
  'in',
  'on',
  'by',
  'with',
  'or',
  'from',
  'is',
  'it',
  'me',
  'my',
]);

/**
 * Splits text into lowercase search terms: camelCase and separators split words, stop words are
 * dropped and a trailing plural `s` is removed.
 *
 * @param text - any text
 * @returns the terms, in order
 */
export function tokenize(text: string): string[] {
  const out: string[] = [];
  const spaced = text.replace(/([a-z0-9])([A-Z])/g, '$1 $2').toLowerCase();
  for (const raw of spaced.split(/[^\p{L}\p{N}]+/u)) {
    if (raw === '' || STOPWORDS.has(raw)) continue;
    out.push(raw.length > 3 && raw.endsWith('s') && !raw.endsWith('ss') ? raw.slice(0, -1) : raw);
  }
  return out;
}

const FIELD_WEIGHTS = { name: 3, tags: 2, description: 1 } as const;
const K1 = 1.2;
const B = 0.75;

/** A BM25 index over a fixed set of tools. */
export class LexicalToolIndex {
  private readonly docs: { tool: ToolHandle; tf: Map<string, number>; len: number }[] = [];
  private readonly df = new Map<string, number>();
  private readonly avgLen: number;

  /** @param tools - the tools to index (latest versions) */
  constructor(tools: readonly ToolHandle[]) {
    let total = 0;
    for (const tool of tools) {
      const tf = new Map<string, number>();
      const add = (text: string, w: number): void => {
        for (const t of tokenize(text)) tf.set(t, (tf.get(t) ?? 0) + w);
      };
      add(tool.name, FIELD_WEIGHTS.name);
      add(tool.tags.join(' '), FIELD_WEIGHTS.tags);
      add(tool.description, FIELD_WEIGHTS.description);
      let len = 0;
      for (const [term, n] of tf) {
        len += n;
        this.df.set(term, (this.df.get(term) ?? 0) + 1);
      }
      total += len;
      this.docs.push({ tool, tf, len });
    }
    this.avgLen = tools.length === 0 ? 1 : total / tools.length;
  }

  /**
   * @param query - free text
   * @param k - how many hits at most
   * @returns matching tools, best first (ties by name); tools sharing no term with the query are omitted
   */
  search(query: string, k: number): ToolSearchHit[] {
    const terms = [...new Set(tokenize(query))];
    const n = this.docs.length;
    const hits: ToolSearchHit[] = [];
    for (const doc of this.docs) {
      let score = 0;
      for (const term of terms) {
        const f = doc.tf.get(term);
        if (f === undefined) continue;
        const df = this.df.get(term) ?? 0;
        const idf = Math.log(1 + (n - df + 0.5) / (df + 0.5));
        score += (idf * f * (K1 + 1)) / (f + K1 * (1 - B + (B * doc.len) / this.avgLen));
      }
      if (score > 0) hits.push({ tool: doc.tool, score });
    }
    hits.sort((a, b) => b.score - a.score || (a.tool.name < b.tool.name ? -1 : 1));
    return hits.slice(0, Math.max(0, k));
  }
}

/**
 * The text embedded for a tool by the vector search path.
 *
 * @param tool - the tool
 * @returns name, tags and description in one string
 */
export function toolSearchText(tool: ToolHandle): string {
  return `${tool.name}${tool.tags.length > 0 ? ` [${tool.tags.join(', ')}]` : ''}: ${tool.description}`;
}
