/**
 * The export lists of the core's entry points are pinned: a name added to or removed from `dream-agent`
 * (or `dream-agent/adapter-kit`) fails here until `exports.json` is updated in the same change, so every
 * change to the public surface is a reviewed one. The root exports what applications use; helpers only
 * adapter authors need live in the adapter kit; engine internals are exported by neither.
 *
 * After a deliberate change, regenerate the file with `UPDATE_EXPORTS=1 npx vitest run
 * test/packaging/exports.test.ts` and review its diff.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));
const pinFile = join(root, 'test/packaging/exports.json');

const ENTRIES = {
  'dream-agent': 'src/index.ts',
  'dream-agent/adapter-kit': 'src/adapter-kit.ts',
} as const;
type Entry = keyof typeof ENTRIES;

interface ExportList {
  /** Names with a run-time value (classes, functions, constants, zod schemas). */
  values: string[];
  /** Type-only names (interfaces and type aliases). */
  types: string[];
}

/** The names an entry file exports, read from its syntax (entry points use named exports only). */
function exportsOf(file: string): ExportList & { star: number } {
  const source = ts.createSourceFile(file, readFileSync(join(root, file), 'utf8'), ts.ScriptTarget.Latest);
  const values = new Set<string>();
  const types = new Set<string>();
  let star = 0;
  const add = (name: string, typeOnly: boolean): void => {
    (typeOnly ? types : values).add(name);
  };
  const exported = (n: ts.Node): boolean =>
    ts.canHaveModifiers(n) && (ts.getModifiers(n) ?? []).some((m) => m.kind === ts.SyntaxKind.ExportKeyword);
  for (const st of source.statements) {
    if (ts.isExportDeclaration(st)) {
      if (st.exportClause === undefined || !ts.isNamedExports(st.exportClause)) {
        star += 1;
        continue;
      }
      for (const el of st.exportClause.elements) add(el.name.text, st.isTypeOnly || el.isTypeOnly);
    } else if (exported(st)) {
      if (ts.isFunctionDeclaration(st) || ts.isClassDeclaration(st)) add(st.name?.text ?? 'default', false);
      else if (ts.isVariableStatement(st)) {
        for (const d of st.declarationList.declarations) if (ts.isIdentifier(d.name)) add(d.name.text, false);
      } else if (ts.isInterfaceDeclaration(st) || ts.isTypeAliasDeclaration(st)) add(st.name.text, true);
    }
  }
  const sort = (s: Set<string>): string[] => [...s].sort((a, b) => a.localeCompare(b, 'en'));
  return { values: sort(values), types: sort(types), star };
}

const current = Object.fromEntries(
  (Object.keys(ENTRIES) as Entry[]).map((e) => {
    const { values, types } = exportsOf(ENTRIES[e]);
    return [e, { values, types }];
  }),
) as Record<Entry, ExportList>;

if (process.env['UPDATE_EXPORTS'] === '1') writeFileSync(pinFile, `${JSON.stringify(current, null, 2)}\n`);
const pinned = JSON.parse(readFileSync(pinFile, 'utf8')) as Record<Entry, ExportList>;

describe('the export lists of the core entry points', () => {
  for (const entry of Object.keys(ENTRIES) as Entry[]) {
    it(`${entry}: named exports only, and exactly the reviewed list (test/packaging/exports.json)`, () => {
      expect(exportsOf(ENTRIES[entry]).star, 'no `export *` in an entry point').toBe(0);
      const added = (k: keyof ExportList): string[] =>
        current[entry][k].filter((n) => !pinned[entry][k].includes(n));
      const removed = (k: keyof ExportList): string[] =>
        pinned[entry][k].filter((n) => !current[entry][k].includes(n));
      const hint = 'a public API change: review it, then UPDATE_EXPORTS=1 regenerates exports.json';
      expect({ added: added('values'), removed: removed('values') }, hint).toEqual({
        added: [],
        removed: [],
      });
      expect({ added: added('types'), removed: removed('types') }, hint).toEqual({ added: [], removed: [] });
    });

    it(`${entry}: the values the module really exports at run time are the pinned ones`, async () => {
      const mod = (await import(join(root, ENTRIES[entry]))) as Record<string, unknown>;
      expect(Object.keys(mod).sort((a, b) => a.localeCompare(b, 'en'))).toEqual(pinned[entry].values);
    });
  }

  it('the root does not re-export the adapter-author helpers of the kit (each lives in one place)', () => {
    const shared = pinned['dream-agent/adapter-kit'].values.filter((n) =>
      pinned['dream-agent'].values.includes(n),
    );
    // estimateTokens is for anyone budgeting a prompt (documented in docs/llm.md), not only adapters.
    expect(shared).toEqual(['estimateTokens']);
  });
});
