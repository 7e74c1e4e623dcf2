import { mkdir, mkdtemp, rename, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  ToolRegistry,
  type ToolRegistryEventName,
  type ToolRegistryEvents,
} from '../../src/tools/registry.js';
import { waitFor } from './helpers.js';

const def = (name: string, description: string, extra = ''): string =>
  `name: ${name}\ndescription: ${description}\ndomain: data\nhandler: { http: { url: "https://x.example/${name}" } }\n${extra}`;

function next<K extends ToolRegistryEventName>(
  reg: ToolRegistry,
  event: K,
  predicate: (p: ToolRegistryEvents[K]) => boolean = () => true,
): Promise<ToolRegistryEvents[K]> {
  return waitFor<ToolRegistryEvents[K]>((fn) => reg.on(event, fn), predicate);
}

for (const mode of ['fs.watch', 'polling'] as const) {
  describe(`hot reload (${mode})`, () => {
    let dir: string;
    let reg: ToolRegistry;
    const watch = () => reg.watch(dir, mode === 'polling' ? { poll: 20, debounceMs: 5 } : { debounceMs: 10 });

    beforeEach(async () => {
      dir = await mkdtemp(join(tmpdir(), 'da-tools-'));
      reg = new ToolRegistry();
    });
    afterEach(async () => {
      await reg.close();
      await rm(dir, { recursive: true, force: true });
    });

    it('edit → new version; break → keeps the previous one and reports; fix → updates; delete → removes', async () => {
      await writeFile(join(dir, 'a.yaml'), def('a.tool', 'First'));
      const watcher = await watch();
      const v1 = reg.get('a.tool');
      expect(v1?.description).toBe('First');

      const updated = next(reg, 'tool.updated');
      await writeFile(join(dir, 'a.yaml'), def('a.tool', 'Second'));
      const u = await updated;
      expect(u.previous).toBe(v1);
      expect(reg.get('a.tool')?.description).toBe('Second');
      expect(reg.get('a.tool', v1?.version ?? '')).toBe(v1); // the old version stays addressable

      const invalid = next(reg, 'tool.invalid');
      await writeFile(join(dir, 'a.yaml'), def('a.tool', 'Third', 'timeout: -5\n'));
      const inv = await invalid;
      expect(inv.file).toBe(join(dir, 'a.yaml'));
      expect(inv.errors.map((e) => `${e.line}:${e.column} ${e.path}: ${e.message}`)).toEqual([
        '5:1 timeout: expected a number > 0',
      ]);
      expect(reg.get('a.tool')?.description).toBe('Second');

      const fixed = next(reg, 'tool.updated');
      await writeFile(join(dir, 'a.yaml'), def('a.tool', 'Fourth'));
      await fixed;
      expect(reg.get('a.tool')?.description).toBe('Fourth');

      // An empty read is a save in progress (truncate, then write), never "drop every tool".
      await writeFile(join(dir, 'a.yaml'), '');
      await watcher.flush();
      expect(reg.get('a.tool')?.description).toBe('Fourth');

      const removed = next(reg, 'tool.removed');
      await unlink(join(dir, 'a.yaml'));
      expect((await removed).name).toBe('a.tool');
      expect(reg.get('a.tool')).toBeUndefined();
    });

    it('picks up new files in new subdirectories, renames, and tools dropped from a list', async () => {
      await watch();
      const added = next(reg, 'tool.registered', (p) => p.tool.name === 'b.two');
      await mkdir(join(dir, 'sub'));
      await writeFile(
        join(dir, 'sub', 'b.yml'),
        `- ${def('b.one', 'One').replace(/\n(?=.)/g, '\n  ')}- ${def('b.two', 'Two').replace(/\n(?=.)/g, '\n  ')}`,
      );
      await added;
      expect(reg.list().map((t) => t.name)).toEqual(['b.one', 'b.two']);

      const dropped = next(reg, 'tool.removed', (p) => p.name === 'b.two');
      await writeFile(join(dir, 'sub', 'b.yml'), def('b.one', 'One'));
      await dropped;
      expect(reg.list().map((t) => t.name)).toEqual(['b.one']);

      // A rename is a delete plus an add: the tool must survive it without a name conflict.
      const invalid: unknown[] = [];
      reg.on('tool.invalid', (e) => invalid.push(e));
      await rename(join(dir, 'sub', 'b.yml'), join(dir, 'c.yaml'));
      await waitFor<string>(
        (fn) => {
          const t = setInterval(() => fn(reg.get('b.one')?.source ?? ''), 10);
          return () => clearInterval(t);
        },
        (src) => src === join(dir, 'c.yaml'),
      );
      expect(invalid).toEqual([]);
    });

    it('a second file defining the same name is reported and does not replace the first', async () => {
      await writeFile(join(dir, 'a.yaml'), def('dup.tool', 'Original'));
      await watch();
      const invalid = next(reg, 'tool.invalid');
      await writeFile(join(dir, 'b.yaml'), def('dup.tool', 'Impostor'));
      const e = await invalid;
      expect(e.errors[0]?.message).toBe(`tool "dup.tool" is already defined in ${join(dir, 'a.yaml')}`);
      expect(e.errors[0]?.line).toBe(1);
      expect(reg.get('dup.tool')?.description).toBe('Original');
    });
  });
}

describe('hot reload', () => {
  it('swaps a multi-tool file atomically: no reader sees half of the new file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'da-tools-'));
    const reg = new ToolRegistry();
    try {
      const file = (d: string): string =>
        `- ${def('x.one', d).replace(/\n(?=.)/g, '\n  ')}- ${def('x.two', d).replace(/\n(?=.)/g, '\n  ')}`;
      await writeFile(join(dir, 'x.yaml'), file('v1'));
      await reg.watch(dir, { debounceMs: 5 });
      const seenDuringEvents: string[] = [];
      reg.on('tool.updated', () => {
        seenDuringEvents.push(`${reg.get('x.one')?.description}/${reg.get('x.two')?.description}`);
      });
      const done = next(reg, 'tool.updated', (p) => p.tool.name === 'x.two');
      await writeFile(join(dir, 'x.yaml'), file('v2'));
      await done;
      // Events fire after the whole file is swapped in: observers never see x.one at v2 and x.two at v1.
      expect(seenDuringEvents).toEqual(['v2/v2', 'v2/v2']);
    } finally {
      await reg.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
