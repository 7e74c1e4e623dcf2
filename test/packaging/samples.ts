/**
 * Extracts the TypeScript samples of the README and the guides and type-checks them against the
 * packages' source, so a sample cannot drift from the API it shows.
 *
 * A sample is a fenced block opened with ```ts. It is compiled as its own module with the repository's
 * strict options. A guide can declare what its fragments assume (an `agent`, a `store`…) in a hidden
 * block — an HTML comment `<!-- ts-prelude ... -->` — that is prepended to each of its samples; a sample
 * that is not meant to compile is opened with ```ts nocheck (say why next to it).
 */
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import ts from 'typescript';

/** One extracted sample. */
export interface Sample {
  /** The markdown file. */
  file: string;
  /** 1-based line of the opening fence. */
  line: number;
  code: string;
}

/** Every ```ts sample of the given markdown files (the nocheck ones excluded). */
export function extractSamples(files: readonly string[]): Sample[] {
  const out: Sample[] = [];
  for (const file of files) {
    const text = readFileSync(file, 'utf8');
    const prelude = [...text.matchAll(/<!--\s*ts-prelude\n([\s\S]*?)-->/g)].map((m) => m[1] ?? '').join('\n');
    const lines = text.split('\n');
    for (let i = 0; i < lines.length; i++) {
      const open = /^\s*```(ts|typescript)(\s+nocheck)?\s*$/.exec(lines[i] ?? '');
      if (!open) continue;
      const start = i;
      const body: string[] = [];
      for (i++; i < lines.length && !/^\s*```\s*$/.test(lines[i] ?? ''); i++) body.push(lines[i] ?? '');
      if (open[2] !== undefined) continue;
      out.push({ file, line: start + 1, code: `${prelude}\n${body.join('\n')}\nexport {};\n` });
    }
  }
  return out;
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
    noEmit: true,
    noUnusedLocals: false,
  });
  const problems: string[] = [];
  for (const d of ts.getPreEmitDiagnostics(program)) {
    const sample = d.file ? byPath.get(d.file.fileName) : undefined;
    const where = sample ? `${relative(root, sample.file)}:${sample.line}` : (d.file?.fileName ?? 'program');
    problems.push(`${where}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`);
  }
  return problems;
}
