/**
 * An agent with a media-generation tool declared in YAML (`tools/media.yaml`): the plan asks for an
 * image, the engine stops for approval (the job costs money), and once approved the tool submits the
 * job, polls it with progress events, and returns the image URL.
 *
 *   npm start -w @dream-agent/example-media-job -- "a lighthouse at dawn"          # asks y/n for the cost
 *   npm start -w @dream-agent/example-media-job -- --yes "a lighthouse at dawn"    # approves itself
 *
 * Without MEDIA_API_URL a local stand-in of the job service is started on loopback.
 */
import { createInterface } from 'node:readline/promises';
import { fileURLToPath } from 'node:url';
import { Agent, FunctionPlanner, ToolRegistry } from 'dream-agent';
import { startMediaStandIn, type MediaStandIn } from './stand-in.js';

const args = process.argv.slice(2);
const yes = args.includes('--yes');
const prompt = args.filter((a) => a !== '--yes').join(' ') || 'a lighthouse at dawn';

let standIn: MediaStandIn | undefined;
if (!process.env['MEDIA_API_URL']) {
  standIn = await startMediaStandIn();
  process.env['MEDIA_API_URL'] = standIn.url;
  process.env['MEDIA_POLL_MS'] ??= '200';
}

const tools = new ToolRegistry();
const loaded = await tools.discover(fileURLToPath(new URL('../tools', import.meta.url)));
if (loaded.errors.length > 0) throw new Error(JSON.stringify(loaded.errors, null, 2));

const agent = new Agent({
  tools,
  planner: new FunctionPlanner(() => ({
    todos: [
      {
        id: 'image',
        title: 'Generate the image',
        domain: 'media',
        tool: 'media.generate_image',
        input: { prompt },
        dependsOn: [],
      },
    ],
  })),
});

const sessionId = `media-${Date.now()}`;
const print = (run: ReturnType<Agent['run']>): void => {
  run.on('todo.progress', (e) =>
    console.log(`progress: ${e.message}${e.pct === undefined ? '' : ` (${e.pct}%)`}`),
  );
};
let run = agent.run(`generate an image of ${prompt}`, { sessionId });
print(run);
let result = await run.result();
const approval = result.pending.find((p) => p.kind === 'approval');
if (approval) {
  console.log(`approval needed: ${approval.prompt} (${approval.risk ?? 'unknown'} risk)`);
  let grant = yes;
  if (!yes) {
    const rl = createInterface({ input: process.stdin, output: process.stdout });
    grant = /^y/i.test(await rl.question('Approve? [y/N] '));
    rl.close();
  }
  run = agent.send(
    sessionId,
    grant
      ? { type: 'approval.grant', requestId: approval.id, actor: 'console' }
      : { type: 'approval.deny', requestId: approval.id, actor: 'console', reason: 'not now' },
  );
  print(run);
  result = await run.result();
}
const image = (await agent.getSession(sessionId)).todos.find((t) => t.todoId === 'image');
console.log(`status: ${result.status}`);
if (image?.status === 'completed') console.log(`image: ${JSON.stringify(image.output)}`);
else console.log(`image: ${image?.status ?? 'none'}`);
await agent.close();
await standIn?.close();
