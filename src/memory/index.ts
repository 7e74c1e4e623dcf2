/**
 * Vector memory and retrieval: embedding cache and checks, document ingestion with citations, erasure.
 * Context recall itself is `ContextMemory` (Cognitive layer).
 *
 * @packageDocumentation
 */
export { CachedEmbedder, SpaceGuard, checkEmbedding, ensureEmbeddingSpace } from './embedding.js';
export type { CachedEmbedderOptions } from './embedding.js';
export { DocumentIngestor, splitMarkdown, splitText } from './ingest.js';
export type {
  Citation,
  DocumentIngestorOptions,
  DocumentInput,
  IngestResult,
  SplitOptions,
  TextChunk,
} from './ingest.js';
export { eraseVectors } from './erase.js';
export type { EraseOptions, EraseTarget } from './erase.js';
export { memoryNamespace } from './scope.js';
export { TrackedMemory, recallForPrompt, rememberTurn, sessionMemory, turnMemories } from './session.js';
export type {
  AgentMemory,
  AgentMemoryEntry,
  AgentMemoryKind,
  RecalledMemory,
  RememberedTurn,
  SessionMemory,
  TurnMemoryOutcome,
} from './session.js';
