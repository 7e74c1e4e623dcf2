/**
 * Document ingestion for retrieval (RAG-style context): split text or Markdown into overlapping chunks,
 * embed them, store them with their source, and retrieve them with citations. Re-ingesting a document
 * replaces its chunks; an unchanged document is not embedded again.
 *
 * @packageDocumentation
 */
import { DreamAgentError } from '../errors/index.js';
import type { JsonObject } from '../model/json.js';
import type { Embedder, VectorFilter, VectorStore } from '../ports/vector.js';
import { sha256Hex } from '../tools/canonical.js';
import { SpaceGuard, checkEmbedding } from './embedding.js';
import { memoryNamespace } from './scope.js';

/** Options of {@link splitText} and {@link splitMarkdown}. */
export interface SplitOptions {
  /** Longest chunk in characters (default 1000). */
  chunkSize?: number;
  /** Characters shared by neighbouring chunks (default 150, less than `chunkSize`). */
  overlap?: number;
}

/** One chunk of a document. */
export interface TextChunk {
  /** The chunk's text (what is embedded and returned in citations). */
  text: string;
  /** Offset of the chunk's first character in the source. */
  start: number;
  /** Offset after its last character. */
  end: number;
  /** Markdown: the heading path (`Guide > Install`), empty for text. */
  section: string;
}

function checkSplit(options: SplitOptions): { size: number; overlap: number } {
  const size = options.chunkSize ?? 1000;
  const overlap = options.overlap ?? Math.min(150, Math.floor(size / 5));
  if (!Number.isInteger(size) || size < 16) {
    throw new DreamAgentError(
      'INVALID_INPUT',
      `chunkSize must be an integer of at least 16, got ${String(size)}`,
    );
  }
  if (!Number.isInteger(overlap) || overlap < 0 || overlap >= size) {
    throw new DreamAgentError(
      'INVALID_INPUT',
      `overlap must be an integer in [0, chunkSize), got ${String(overlap)}`,
    );
  }
  return { size, overlap };
}

/** Where to cut before `limit`: the last paragraph break, else line break, sentence end, space. */
function cutPoint(text: string, from: number, limit: number): number {
  if (limit >= text.length) return text.length;
  const window = text.slice(from, limit);
  const min = Math.floor(window.length / 2);
  for (const re of [/\n\s*\n/g, /\n/g, /[.!?。](?=\s)/g, /\s/g]) {
    let best = -1;
    for (const m of window.matchAll(re)) {
      const at = m.index + m[0].length;
      if (at >= min) best = at;
    }
    if (best > 0) return from + best;
  }
  return limit;
}

function chunkRange(text: string, base: number, section: string, size: number, overlap: number): TextChunk[] {
  const out: TextChunk[] = [];
  let start = 0;
  while (start < text.length) {
    // Skip leading whitespace so chunks start on content.
    while (start < text.length && /\s/.test(text[start]!)) start++;
    if (start >= text.length) break;
    const end = cutPoint(text, start, start + size);
    const piece = text.slice(start, end).trimEnd();
    if (piece.length > 0)
      out.push({ text: piece, start: base + start, end: base + start + piece.length, section });
    if (end >= text.length) break;
    // The next chunk starts `overlap` characters back, at a word boundary when there is one.
    let next = Math.max(start + 1, end - overlap);
    const space = text.indexOf(' ', next);
    if (overlap > 0 && space !== -1 && space + 1 < end) next = space + 1;
    start = next;
  }
  return out;
}

/**
 * Splits plain text into chunks of at most `chunkSize` characters that overlap by about `overlap`,
 * cutting at paragraph, line, sentence or word boundaries when one is near.
 *
 * @param text - the text
 * @param options - chunk size and overlap
 * @returns the chunks, in order, with their offsets
 * @throws DreamAgentError `INVALID_INPUT` for a bad size or overlap
 * @example
 * ```ts
 * splitText(longText, { chunkSize: 800, overlap: 100 });
 * ```
 */
export function splitText(text: string, options: SplitOptions = {}): TextChunk[] {
  const { size, overlap } = checkSplit(options);
  return chunkRange(text, 0, '', size, overlap);
}

/**
 * Splits Markdown by headings first (every chunk knows its heading path, and never spans two
 * sections), then each section as {@link splitText} does. Headings inside fenced code blocks are not
 * headings.
 *
 * @param markdown - the document
 * @param options - chunk size and overlap
 * @returns the chunks, in order, with offsets and `section`
 * @throws DreamAgentError `INVALID_INPUT` for a bad size or overlap
 */
export function splitMarkdown(markdown: string, options: SplitOptions = {}): TextChunk[] {
  const { size, overlap } = checkSplit(options);
  const sections: { start: number; path: string }[] = [{ start: 0, path: '' }];
  const stack: string[] = [];
  let fence: string | undefined;
  let offset = 0;
  for (const line of markdown.split('\n')) {
    const fenceMatch = /^\s*(`{3,}|~{3,})/.exec(line);
    if (fenceMatch) {
      const marker = fenceMatch[1]!;
      if (fence === undefined) fence = marker[0]!;
      else if (marker[0] === fence) fence = undefined;
    } else if (fence === undefined) {
      const h = /^(#{1,6})\s+(.+?)\s*#*\s*$/.exec(line);
      if (h) {
        const depth = h[1]!.length;
        stack.length = Math.min(stack.length, depth - 1);
        while (stack.length < depth - 1) stack.push('');
        stack.push(h[2]!);
        sections.push({ start: offset, path: stack.filter((s) => s !== '').join(' > ') });
      }
    }
    offset += line.length + 1;
  }
  const out: TextChunk[] = [];
  sections.forEach((s, i) => {
    const end = sections[i + 1]?.start ?? markdown.length;
    const body = markdown.slice(s.start, end);
    // A heading with nothing under it (before its first subsection) is not worth a chunk of its own.
    if (s.path !== '' && body.replace(/^[^\n]*\n?/, '').trim() === '') return;
    out.push(...chunkRange(markdown.slice(s.start, end), s.start, s.path, size, overlap));
  });
  return out;
}

/** A document to ingest. */
export interface DocumentInput {
  /** Stable document id (re-ingesting the same id replaces its chunks). */
  id: string;
  /** The content. */
  text: string;
  /** `markdown` splits by headings first (default: `markdown` when `source` ends in .md, else `text`). */
  format?: 'text' | 'markdown';
  /** Where it came from (a path, URL, title): returned in citations. Default: the id. */
  source?: string;
  /** The owning tenant (namespace). */
  tenantId?: string;
  /** Limit the document to one session; without it, every session of the tenant sees it. */
  sessionId?: string;
  /** Extra metadata stored with every chunk (filterable). */
  metadata?: JsonObject;
}

/** What {@link DocumentIngestor.ingest} did. */
export interface IngestResult {
  /** The document's id ({@link DocumentInput.id}). */
  documentId: string;
  /** How many chunks the document now has in the store. */
  chunks: number;
  /** False when the content was unchanged and nothing was embedded. */
  changed: boolean;
  /** Chunks of the previous version removed. */
  removed: number;
}

/** A retrieved chunk with its citation. */
export interface Citation {
  /** The document the chunk belongs to ({@link DocumentInput.id}). */
  documentId: string;
  /** Where the document came from ({@link DocumentInput.source}; the id when none was given). */
  source: string;
  /** Chunk index in the document. */
  chunk: number;
  /** Markdown: the heading path of the chunk (`Guide > Install`); empty for plain text. */
  section: string;
  /** Offset of the chunk's first character in the document's text. */
  start: number;
  /** Offset after the chunk's last character. */
  end: number;
  /** The chunk's text, to quote or put into a prompt. */
  text: string;
  /**
   * Similarity to the query as the vector store reports it: higher is closer (scale depends on the store and
   * metric).
   */
  score: number;
}

/** Options of {@link DocumentIngestor}. */
export interface DocumentIngestorOptions extends SplitOptions {
  /** Turns chunks and queries into vectors; use the same embedder for ingesting and retrieving. */
  embedder: Embedder;
  /** Where the chunks' vectors and metadata are stored. */
  store: VectorStore;
  /** Namespace prefix, shared with `ContextMemory` so its recall sees documents (default `memory`). */
  namespace?: string;
  /** Texts per embed call (default 64). */
  batchSize?: number;
}

/**
 * Ingests documents into a vector store and retrieves chunks with citations.
 *
 * @example
 * ```ts
 * const docs = new DocumentIngestor({ embedder, store, chunkSize: 800, overlap: 100 });
 * await docs.ingest({ id: 'handbook', source: 'handbook.md', text: markdown, tenantId: 'acme' });
 * const cites = await docs.retrieve('how do I reset my password?', { tenantId: 'acme', k: 3 });
 * ```
 */
export class DocumentIngestor {
  readonly #options: DocumentIngestorOptions;
  readonly #guard: SpaceGuard;

  /**
   * @param options - embedder, store, chunking
   * @throws DreamAgentError `INVALID_INPUT` for bad chunking options
   */
  constructor(options: DocumentIngestorOptions) {
    checkSplit(options);
    this.#options = options;
    this.#guard = new SpaceGuard(options.store, options.embedder);
  }

  #namespace(tenantId: string | undefined): string {
    return memoryNamespace(this.#options.namespace ?? 'memory', tenantId);
  }

  /**
   * Splits, embeds and stores a document. Chunks are written before the previous version's extra chunks
   * are deleted, so a reader never finds the document missing; an unchanged document (same content hash
   * and chunking) is skipped.
   *
   * @param doc - the document
   * @returns how many chunks, whether anything changed, how many old chunks were removed
   * @throws DreamAgentError `INVALID_INPUT` for an empty id; `INVALID_STATE` when the namespace was built
   *   with another embedding model; `LLM_ERROR` for a bad embedding
   */
  async ingest(doc: DocumentInput): Promise<IngestResult> {
    if (typeof doc.id !== 'string' || doc.id === '' || doc.id.length > 400) {
      throw new DreamAgentError(
        'INVALID_INPUT',
        'a document id must be a non-empty string of at most 400 characters',
      );
    }
    if (typeof doc.text !== 'string')
      throw new DreamAgentError('INVALID_INPUT', `document ${doc.id}: text must be a string`);
    const { store, embedder } = this.#options;
    const namespace = this.#namespace(doc.tenantId);
    const scope = { namespace };
    await this.#guard.ensure(scope);
    const source = doc.source ?? doc.id;
    const format = doc.format ?? (/\.(md|markdown)$/i.test(source) ? 'markdown' : 'text');
    const split = { chunkSize: this.#options.chunkSize ?? 1000, overlap: this.#options.overlap ?? 150 };
    const version = sha256Hex(
      `${format}\u0000${split.chunkSize}\u0000${split.overlap}\u0000${doc.text}`,
    ).slice(0, 24);
    const docFilter: VectorFilter = { kind: 'document', documentId: doc.id };

    // Unchanged? Any chunk of this version says so (the query vector does not matter under a filter
    // this narrow; a constant one works with every metric).
    const existing = await store.query(
      new Array<number>(embedder.dimensions).fill(1),
      1,
      { ...docFilter, version },
      scope,
    );
    if (existing.length > 0) {
      const total = existing[0]!.metadata?.['chunks'];
      return {
        documentId: doc.id,
        chunks: typeof total === 'number' ? total : 0,
        changed: false,
        removed: 0,
      };
    }

    const chunks = format === 'markdown' ? splitMarkdown(doc.text, split) : splitText(doc.text, split);
    const batch = this.#options.batchSize ?? 64;
    for (let i = 0; i < chunks.length; i += batch) {
      const part = chunks.slice(i, i + batch);
      // The heading path is embedded with the chunk: it is often what a question names.
      const vectors = await embedder.embed(part.map((c) => (c.section ? `${c.section}\n${c.text}` : c.text)));
      const items = part.map((c, j) => {
        const vector = vectors[j];
        checkEmbedding(vector, embedder.dimensions, embedder.model ?? 'embedder');
        const metadata: JsonObject = {
          ...doc.metadata,
          kind: 'document',
          documentId: doc.id,
          source,
          version,
          chunk: i + j,
          chunks: chunks.length,
          section: c.section,
          start: c.start,
          end: c.end,
          text: c.text,
        };
        if (doc.tenantId !== undefined) metadata['tenantId'] = doc.tenantId;
        if (doc.sessionId !== undefined) metadata['sessionId'] = doc.sessionId;
        else metadata['shared'] = true;
        return { id: `doc:${doc.id}#${i + j}`, vector, metadata };
      });
      await store.upsert(items, scope);
    }
    const removed = await this.#removeStale(doc.id, version, namespace);
    return { documentId: doc.id, chunks: chunks.length, changed: true, removed };
  }

  async #removeStale(documentId: string, version: string, namespace: string): Promise<number> {
    const { store } = this.#options;
    const stale: VectorFilter = { kind: 'document', documentId, version: { $ne: version } };
    if (store.deleteWhere !== undefined) return store.deleteWhere(stale, { namespace });
    throw new DreamAgentError('INVALID_STATE', 'this vector store cannot delete by filter (deleteWhere)');
  }

  /**
   * Removes a document's chunks.
   *
   * @param documentId - the document
   * @param tenantId - its tenant
   * @returns how many chunks were removed
   */
  async remove(documentId: string, tenantId?: string): Promise<number> {
    const { store } = this.#options;
    if (store.deleteWhere === undefined) {
      throw new DreamAgentError('INVALID_STATE', 'this vector store cannot delete by filter (deleteWhere)');
    }
    return store.deleteWhere({ kind: 'document', documentId }, { namespace: this.#namespace(tenantId) });
  }

  /**
   * Retrieves the chunks most relevant to a query, with citations.
   *
   * @param query - the question
   * @param options - tenant, session (its private documents plus the tenant's shared ones), k, filter
   * @returns the chunks, best first
   */
  async retrieve(
    query: string,
    options: { tenantId?: string; sessionId?: string; k?: number; filter?: VectorFilter } = {},
  ): Promise<Citation[]> {
    const { store, embedder } = this.#options;
    const [vector] = await embedder.embed([query]);
    checkEmbedding(vector, embedder.dimensions, embedder.model ?? 'embedder');
    const visibility: VectorFilter[] = [{ shared: true }];
    if (options.sessionId !== undefined) visibility.push({ sessionId: options.sessionId });
    const filter: VectorFilter = { ...options.filter, kind: 'document', $or: visibility };
    if (options.tenantId !== undefined) filter['tenantId'] = options.tenantId;
    const matches = await store.query(vector, options.k ?? 5, filter, {
      namespace: this.#namespace(options.tenantId),
    });
    return matches.map((m) => {
      const md = m.metadata ?? {};
      const num = (key: string): number => (typeof md[key] === 'number' ? md[key] : 0);
      const str = (key: string): string => (typeof md[key] === 'string' ? md[key] : '');
      return {
        documentId: str('documentId'),
        source: str('source'),
        chunk: num('chunk'),
        section: str('section'),
        start: num('start'),
        end: num('end'),
        text: str('text'),
        score: m.score,
      };
    });
  }
}
