/**
 * JSON Schema `pattern`s on a linear-time engine.
 *
 * JSON Schema patterns are ECMA-262 regular expressions, and V8 runs those with a backtracking engine
 * that has no time limit: `^(a+)+$` took 10.6 s on a 29-character `input.provide` value, and
 * `^\d*\d*\d*\d*$` — polynomial, so the old static "nested repetition" check let it through — 8.5 s
 * on 400 characters. No heuristic over pattern shapes is complete, so patterns are no longer run by V8
 * at all: each is translated to RE2 syntax and matched by RE2JS (a pure-JS port of RE2, no native or
 * WebAssembly loading, ESM and CJS), whose matching time is linear in the input for every pattern.
 *
 * The translation keeps ECMAScript meaning where the two dialects differ (`.` excludes every line
 * terminator, `\s` is ECMAScript's Unicode whitespace set, `\uHHHH`, `\cX`, identity escapes,
 * `[^]`, a lone `{`). What RE2 cannot do in linear time — lookaround and backreferences — is refused
 * with a clear reason when the schema is compiled, never at validation time. One documented
 * difference: matching is by code point (as with the `u` flag), so `.` matches a whole astral
 * character rather than half of a surrogate pair.
 *
 * @packageDocumentation
 */
import { RE2JS } from 're2js';

/** ECMAScript's `\s`: WhiteSpace and LineTerminator code points, as an RE2 class body. */
const ES_WHITESPACE =
  '\\x{9}-\\x{d}\\x{20}\\x{a0}\\x{1680}\\x{2000}-\\x{200a}\\x{2028}\\x{2029}\\x{202f}\\x{205f}\\x{3000}\\x{feff}';
/** ECMAScript's `.` without the `s` flag: anything but a line terminator. */
const ES_DOT = '[^\\x{a}\\x{d}\\x{2028}\\x{2029}]';

/** A pattern the linear-time engine cannot run, with the reason (shown to schema authors). */
export class UnsupportedPatternError extends Error {
  override readonly name = 'UnsupportedPatternError';
}

const hex = (code: number): string => `\\x{${code.toString(16)}}`;
const isHex = (s: string): boolean => /^[0-9a-fA-F]+$/.test(s);
/** Characters that may be emitted as themselves in RE2 syntax, in and out of classes. */
const PLAIN = /^[A-Za-z0-9 _,'"`~!@#%&=;:<>/]$/;
const literal = (ch: string): string => (PLAIN.test(ch) ? ch : hex(ch.codePointAt(0) ?? 0));

/**
 * Reads one escape at `p[i] === '\\'` and returns its RE2 form and the next index.
 *
 * @param inClass - inside `[...]`, where `\b` is a backspace and class escapes are inlined
 */
function escape(p: string, i: number, inClass: boolean): [string, number] {
  const c = p[i + 1];
  if (c === undefined) throw new UnsupportedPatternError('the pattern ends with a lone backslash');
  const next = i + 2;
  switch (c) {
    case 'd':
    case 'D':
    case 'w':
    case 'W':
      return [`\\${c}`, next];
    case 'b':
      return inClass ? [hex(8), next] : ['\\b', next];
    case 'B':
      if (inClass) return ['B', next];
      return ['\\B', next];
    case 's':
      return [inClass ? ES_WHITESPACE : `[${ES_WHITESPACE}]`, next];
    case 'S':
      if (inClass) {
        throw new UnsupportedPatternError('\\S inside a character class is not supported; use [^…] instead');
      }
      return [`[^${ES_WHITESPACE}]`, next];
    case 't':
      return [hex(9), next];
    case 'n':
      return [hex(10), next];
    case 'v':
      return [hex(11), next];
    case 'f':
      return [hex(12), next];
    case 'r':
      return [hex(13), next];
    case '0':
      if (!/[0-9]/.test(p[next] ?? '')) return [hex(0), next];
      throw new UnsupportedPatternError('octal escapes are not supported');
    case 'x': {
      const h = p.slice(next, next + 2);
      if (h.length === 2 && isHex(h)) return [hex(parseInt(h, 16)), next + 2];
      return ['x', next];
    }
    case 'u': {
      const h = p.slice(next, next + 4);
      if (h.length === 4 && isHex(h)) return [hex(parseInt(h, 16)), next + 4];
      return ['u', next];
    }
    case 'c': {
      const l = p[next] ?? '';
      if (/[A-Za-z]/.test(l)) return [hex(l.charCodeAt(0) % 32), next + 1];
      return [inClass ? hex(0x5c) : `${hex(0x5c)}`, i + 1]; // `\c` not followed by a letter is a backslash
    }
    case 'p':
    case 'P': {
      // Unicode property escapes (`\p{L}`): their meaning under the `u` flag, which is what authors intend.
      const m = /^\{[A-Za-z_]+\}/.exec(p.slice(next));
      if (m) return [`\\${c}${m[0]}`, next + m[0].length];
      return [c, next];
    }
    case 'k':
      if (p.includes('(?<'))
        throw new UnsupportedPatternError('backreferences (\\k<name>) are not supported');
      return ['k', next];
    default:
      if (/[1-9]/.test(c)) throw new UnsupportedPatternError('backreferences (\\1…) are not supported');
      return [literal(c), next];
  }
}

/**
 * Translates an ECMAScript pattern (already known to compile in V8) into RE2 syntax with the same meaning.
 *
 * @param p - the pattern as written in the schema
 * @returns the RE2 source
 * @throws UnsupportedPatternError for lookaround, backreferences and the few constructs RE2 lacks
 */
export function toRe2Source(p: string): string {
  let out = '';
  let i = 0;
  while (i < p.length) {
    const c = p[i] as string;
    if (c === '\\') {
      const [s, n] = escape(p, i, false);
      out += s;
      i = n;
    } else if (c === '[') {
      let j = i + 1;
      const negated = p[j] === '^';
      if (negated) j++;
      let body = '';
      while (j < p.length && p[j] !== ']') {
        if (p[j] === '\\') {
          const [s, n] = escape(p, j, true);
          body += s;
          j = n;
        } else if (p[j] === '-') {
          body += '-';
          j++;
        } else {
          body += literal(p[j] as string);
          j++;
        }
      }
      i = j + 1;
      if (body === '') out += negated ? '[\\x{0}-\\x{10ffff}]' : '[^\\x{0}-\\x{10ffff}]';
      else out += `[${negated ? '^' : ''}${body}]`;
    } else if (c === '(') {
      if (p[i + 1] === '?') {
        const rest = p.slice(i + 2);
        if (rest.startsWith(':')) {
          out += '(?:';
          i += 3;
        } else if (/^(?:=|!|<=|<!)/.test(rest)) {
          throw new UnsupportedPatternError('lookahead and lookbehind assertions are not supported');
        } else {
          const m = /^<([A-Za-z_$][\w$]*)>/.exec(rest);
          if (!m) throw new UnsupportedPatternError('unsupported group syntax');
          out += `(?P<${m[1] ?? ''}>`;
          i += 2 + m[0].length;
        }
      } else {
        out += '(';
        i++;
      }
    } else if (c === '{') {
      const m = /^\{\d+(?:,\d*)?\}/.exec(p.slice(i));
      if (m) {
        out += m[0];
        i += m[0].length;
      } else {
        out += hex(0x7b); // ECMAScript (without `u`) reads a `{` that starts no quantifier as a literal
        i++;
      }
    } else if (c === '.') {
      out += ES_DOT;
      i++;
    } else if ('^$|)*+?'.includes(c)) {
      out += c;
      i++;
    } else {
      const cp = p.codePointAt(i) ?? 0;
      const ch = String.fromCodePoint(cp);
      out += literal(ch);
      i += ch.length;
    }
  }
  return out;
}

/** A compiled pattern: `test` says whether it matches anywhere in the string (JSON Schema semantics). */
export interface LinearPattern {
  /** The pattern as written in the schema. */
  readonly source: string;
  /**
   * @param input - the string to check
   * @returns whether the pattern matches somewhere in it, in time linear in its length
   */
  test(input: string): boolean;
}

/**
 * Compiles an ECMAScript pattern for the linear-time engine.
 *
 * @param source - the pattern as written in the schema
 * @returns the compiled pattern
 * @throws UnsupportedPatternError when the pattern is invalid or uses a construct without a linear-time match
 * @example
 * ```ts
 * compileLinearPattern('^(a+)+$').test('a'.repeat(100_000) + '!'); // false, in milliseconds
 * ```
 */
export function compileLinearPattern(source: string): LinearPattern {
  try {
    new RegExp(source);
  } catch (e) {
    throw new UnsupportedPatternError(
      `invalid regular expression: ${e instanceof Error ? e.message : String(e)}`,
    );
  }
  const translated = toRe2Source(source);
  let re: RE2JS;
  try {
    re = RE2JS.compile(translated);
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    throw new UnsupportedPatternError(`not supported by the linear-time engine: ${msg}`);
  }
  return { source, test: (input) => re.test(input) };
}

/**
 * A `RegExp` whose `test` runs on the linear-time engine: what zod's regex checks call. The V8 regex
 * underneath is compiled (so the object is a real RegExp) but never run by `test` or `exec`.
 */
export class LinearRegExp extends RegExp {
  readonly #linear: LinearPattern;

  /**
   * @param linear - the compiled pattern
   */
  constructor(linear: LinearPattern) {
    super(linear.source);
    this.#linear = linear;
  }

  /** @returns whether the pattern matches somewhere in `input` */
  override test(input: string): boolean {
    return this.#linear.test(String(input));
  }

  /** @returns a one-element match (the input) when the pattern matches, else null — positions are not reported */
  override exec(input: string): RegExpExecArray | null {
    const s = String(input);
    if (!this.#linear.test(s)) return null;
    const m = [s] as unknown as RegExpExecArray;
    m.index = 0;
    m.input = s;
    return m;
  }

  /** @returns the pattern as written, in slashes */
  override toString(): string {
    return `/${this.#linear.source}/`;
  }
}
