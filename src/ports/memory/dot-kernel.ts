/**
 * The scoring kernel of the memory vector store: dot products of one query against every row of a
 * contiguous float32 matrix. WebAssembly SIMD (f32x4) when the runtime has it — about 4× a scalar
 * JavaScript loop, which is what brings an exact 10k × 384 query to about a millisecond — and a
 * JavaScript loop over the same layout otherwise.
 *
 * The module is 300 bytes compiled from `dot.wat` beside this file (`wat2wasm --enable-simd`); it
 * imports its memory, so every namespace owns one growable memory and no data is copied per query.
 *
 * @packageDocumentation
 * @internal
 */

const DOT_WASM =
  'AGFzbQEAAAABCQFgBX9/f39/AAIPAQNlbnYGbWVtb3J5AgABAwIBAAcKAQZzY29yZXMAAAqdAgGaAgMEfwF9AnsgAkF4cSEIIAAhBwJAA0AgBSABTw0B/QwAAAAAAAAAAAAAAAAAAAAAIQr9DAAAAAAAAAAAAAAAAAAAAAAhC0EAIQYCQANAIAYgCE8NASAKIAcgBkECdGr9AAQAIAMgBkECdGr9AAQA/eYB/eQBIQogCyAHIAZBAnRq/QAEECADIAZBAnRq/QAEEP3mAf3kASELIAZBCGohBgwACwsgCiAL/eQBIQogCv0fACAK/R8BkiAK/R8CIAr9HwOSkiEJAkADQCAGIAJPDQEgCSAHIAZBAnRqKgIAIAMgBkECdGoqAgCUkiEJIAZBAWohBgwACwsgBCAFQQJ0aiAJOAIAIAcgAkECdGohByAFQQFqIQUMAAsLCw==';

interface Exports {
  scores(data: number, n: number, dim: number, q: number, out: number): void;
}

let compiled: WebAssembly.Module | null | undefined;

function wasmModule(): WebAssembly.Module | null {
  if (compiled !== undefined) return compiled;
  try {
    const bytes = Uint8Array.from(atob(DOT_WASM), (c) => c.charCodeAt(0));
    compiled = WebAssembly.validate(bytes) ? new WebAssembly.Module(bytes) : null;
  } catch {
    compiled = null;
  }
  return compiled;
}

const PAGE = 65_536;

/**
 * A growable row-major float32 matrix with a `scores` pass. Rows live at the start of the memory; the
 * query and the score output are scratch space placed after the rows at each call.
 */
export class DotMatrix {
  readonly dim: number;
  #rows = 0;
  #capacity = 0;
  #memory: WebAssembly.Memory | undefined;
  #exports: Exports | undefined;
  #data: Float32Array;

  /** @param dim - row length */
  constructor(dim: number) {
    this.dim = dim;
    const mod = wasmModule();
    if (mod !== null) {
      this.#memory = new WebAssembly.Memory({ initial: 1 });
      const instance = new WebAssembly.Instance(mod, { env: { memory: this.#memory } });
      this.#exports = instance.exports as unknown as Exports;
    }
    this.#data = new Float32Array(0);
  }

  /** Whether the SIMD kernel is in use. */
  get simd(): boolean {
    return this.#exports !== undefined;
  }

  /** Number of rows in use. */
  get rows(): number {
    return this.#rows;
  }

  /** The rows as one view (valid until the next `resize`/`scores`). */
  get data(): Float32Array {
    return this.#data;
  }

  /** Bytes held for rows (capacity). */
  get bytes(): number {
    return this.#capacity * this.dim * 4;
  }

  #ensure(floats: number): void {
    const memory = this.#memory;
    if (memory === undefined) {
      if (this.#data.length >= floats) return;
      const next = new Float32Array(Math.max(floats, 2 * this.#data.length));
      next.set(this.#data);
      this.#data = next;
      return;
    }
    const need = floats * 4;
    if (memory.buffer.byteLength < need) {
      const have = memory.buffer.byteLength;
      const target = Math.max(need, Math.min(2 * have, have + 256 * 1024 * 1024));
      memory.grow(Math.ceil((target - have) / PAGE));
    }
    this.#data = new Float32Array(memory.buffer, 0, this.#capacity * this.dim);
  }

  /**
   * Sets the number of rows, growing capacity geometrically.
   *
   * @param rows - the new row count
   */
  resize(rows: number): void {
    if (rows > this.#capacity) {
      this.#capacity = Math.max(rows, 2 * this.#capacity, 64);
      this.#ensure(this.#capacity * this.dim);
    }
    this.#rows = rows;
  }

  /**
   * Scores every row against a unit query.
   *
   * @param query - the query, `dim` entries
   * @returns one score per row (a view, valid until the next call)
   */
  scores(query: Float32Array): Float32Array {
    const n = this.#rows;
    const dim = this.dim;
    const rowFloats = this.#capacity * dim;
    if (this.#exports !== undefined) {
      this.#ensure(rowFloats + dim + n);
      const buffer = this.#memory!.buffer;
      const qOffset = rowFloats * 4;
      new Float32Array(buffer, qOffset, dim).set(query);
      const outOffset = qOffset + dim * 4;
      this.#exports.scores(0, n, dim, qOffset, outOffset);
      return new Float32Array(buffer, outOffset, n);
    }
    const data = this.#data;
    const out = new Float32Array(n);
    const tail = dim - (dim % 4);
    for (let row = 0, base = 0; row < n; row++, base += dim) {
      // Four accumulators: independent chains let the JIT overlap the multiplies.
      let s0 = 0;
      let s1 = 0;
      let s2 = 0;
      let s3 = 0;
      let i = 0;
      for (; i < tail; i += 4) {
        s0 += data[base + i]! * query[i]!;
        s1 += data[base + i + 1]! * query[i + 1]!;
        s2 += data[base + i + 2]! * query[i + 2]!;
        s3 += data[base + i + 3]! * query[i + 3]!;
      }
      for (; i < dim; i++) s0 += data[base + i]! * query[i]!;
      out[row] = s0 + s1 + s2 + s3;
    }
    return out;
  }
}
