/**
 * Extracts the TypeScript samples of the README and the guides and type-checks them against the
 * packages' source, so a sample cannot drift from the API it shows.
 *
 * A sample is a fenced block opened with ```ts. It is compiled as its own module with the repository's
 * strict options, importing the packages by name (`dream-agent`, `@dream-agent/…`) as a user would.
 * What a fragment assumes (an `agent`, a `store`…) is declared in hidden blocks — HTML comments, so a
 * reader of the rendered guide does not see them:
 *
 * - `<!-- ts-prelude ... -->` anywhere in the file: prepended to every sample of the file;
 * - `<!-- ts-setup ... -->` directly above a fence (blank lines between are allowed): prepended to that
 *   one sample only, after the prelude — for a fragment that continues an earlier sample, or whose
 *   imports would clash with a file-wide prelude.
 *
 * Setup code should declare what a real program would have (`declare const agent: Agent;`, an import),
 * never re-implement the API. A sample that is not meant to compile is opened with ```ts nocheck (say
 * why next to it). Diagnostics are reported at the markdown line of the sample's code, or at the
 * sample's fence with "(setup)" when they fall in the hidden code.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import ts from 'typescript';

/** One extracted sample. */
export interface Sample {
  /** The markdown file. */
  file: string;
  /** 1-based line of the opening fence. */
  line: number;
  /** The code compiled: prelude, setup, the sample, `export {}`. */
  code: string;
  /** 0-based line of `code` where the sample's own lines start (the lines above are hidden setup). */
  bodyStart: number;
}

/** Every ```ts sample of the given markdown files (the nocheck ones excluded). */
export function extractSamples(files: readonly string[]): Sample[] {
  const out: Sample[] = [];
  for (const file of files) {
    const text = readFileSync(file, 'utf8');
    const prelude = [...text.matchAll(/<!--\s*ts-prelude\n([\s\S]*?)-->/g)].map((m) => m[1] ?? '').join('\n');
    const lines = text.split('\n');
    const setups = [...text.matchAll(/<!--\s*ts-setup\b/g)].length;
    let attached = 0;
    for (let i = 0; i < lines.length; i++) {
      const open = /^\s*```(ts|typescript)(\s+nocheck)?\s*$/.exec(lines[i] ?? '');
      if (!open) continue;
      const start = i;
      const body: string[] = [];
      for (i++; i < lines.length && !/^\s*```\s*$/.test(lines[i] ?? ''); i++) body.push(lines[i] ?? '');
      if (open[2] !== undefined) {
        if (setupAbove(lines, start) !== undefined) attached++;
        continue;
      }
      const setup = setupAbove(lines, start);
      if (setup !== undefined) attached++;
      const head = `${prelude}\n${setup ?? ''}\n`;
      out.push({
        file,
        line: start + 1,
        code: `${head}${body.join('\n')}\nexport {};\n`,
        bodyStart: head.split('\n').length - 1,
      });
    }
    // A setup block that is not directly above a fence would silently set up nothing.
    if (attached !== setups)
      throw new Error(`${file}: a ts-setup block is not directly above a \`\`\`ts fence`);
  }
  return out;
}

/** The body of a `<!-- ts-setup … -->` comment that ends right above line `fence` (blank lines between). */
function setupAbove(lines: readonly string[], fence: number): string | undefined {
  let end = fence - 1;
  while (end >= 0 && (lines[end] ?? '').trim() === '') end--;
  if (end < 0 || !(lines[end] ?? '').trim().endsWith('-->')) return undefined;
  let begin = end;
  while (begin > 0 && !(lines[begin] ?? '').includes('<!--')) begin--;
  const comment = /^\s*<!--\s*ts-setup\b([\s\S]*?)-->\s*$/.exec(lines.slice(begin, end + 1).join('\n'));
  return comment?.[1];
}

/** The markdown files whose samples are checked: README.md, docs/*.md, every adapter's README. */
export function sampleFiles(root: string): string[] {
  const docs = readdirSync(join(root, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => join(root, 'docs', f));
  const adapters = readdirSync(join(root, 'adapters')).map((a) => join(root, 'adapters', a, 'README.md'));
  return [
    join(root, 'README.md'),
    ...docs,
    ...adapters.filter((f) => {
      try {
        readFileSync(f);
        return true;
      } catch {
        return false;
      }
    }),
  ];
}

/**
 * Path mappings for the adapters' subpath exports (`@dream-agent/ws/client` → `adapters/ws/src/client.ts`):
 * the repository's tsconfig maps each adapter's root to its source, and a subpath would otherwise resolve
 * to a `dist/` that is not built when the docs test runs.
 */
function adapterSubpaths(root: string): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const dir of readdirSync(join(root, 'adapters'))) {
    let manifest: { name?: string; exports?: Record<string, unknown> };
    try {
      manifest = JSON.parse(
        readFileSync(join(root, 'adapters', dir, 'package.json'), 'utf8'),
      ) as typeof manifest;
    } catch {
      continue;
    }
    for (const key of Object.keys(manifest.exports ?? {})) {
      const source = join('adapters', dir, 'src', `${key.slice(2)}.ts`);
      if (key === '.' || !/^\.\/[\w-]+$/.test(key) || !existsSync(join(root, source))) continue;
      out[`${manifest.name}/${key.slice(2)}`] = [`./${source}`];
    }
  }
  return out;
}

/**
 * Type-checks the samples in one program.
 *
 * @returns one message per failing sample: `file:line: diagnostic`
 */
export function checkSamples(root: string, samples: readonly Sample[], outDir: string): string[] {
  mkdirSync(outDir, { recursive: true });
  // An ES module package inside the repository, so the samples resolve packages as the examples do.
  writeFileSync(join(outDir, 'package.json'), '{ "type": "module" }\n');
  const byPath = new Map<string, Sample>();
  samples.forEach((s, i) => {
    const p = join(outDir, `sample-${i}.ts`);
    writeFileSync(p, s.code);
    byPath.set(p, s);
  });
  const config = ts.readConfigFile(join(root, 'tsconfig.json'), (p) => ts.sys.readFile(p));
  const parsed = ts.parseJsonConfigFileContent(config.config, ts.sys, root);
  const program = ts.createProgram([...byPath.keys()], {
    ...parsed.options,
    paths: { ...adapterSubpaths(root), ...parsed.options.paths },
    noEmit: true,
    noUnusedLocals: false,
  });
  const problems: string[] = [];
  for (const d of ts.getPreEmitDiagnostics(program)) {
    const sample = d.file ? byPath.get(d.file.fileName) : undefined;
    let where = d.file?.fileName ?? 'program';
    if (sample && d.file) {
      const line = d.start === undefined ? 0 : d.file.getLineAndCharacterOfPosition(d.start).line;
      where =
        line >= sample.bodyStart
          ? `${relative(root, sample.file)}:${sample.line + 1 + line - sample.bodyStart}`
          : `${relative(root, sample.file)}:${sample.line} (setup)`;
    }
    problems.push(`${where}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`);
  }
  return problems;
}
