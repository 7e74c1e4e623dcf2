/**
 * YAML tools with hot reload. The registry watches a tools folder; every change is reported, and each
 * line you type is a request that runs `greet.hello` in whatever version is registered at that moment.
 *
 *   npm start -w @dream-agent/example-yaml-tools            # then type a name; edit tools/greet.yaml meanwhile
 *   TOOLS_DIR=./my-tools npm start -w @dream-agent/example-yaml-tools
 */
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Agent, FunctionPlanner, ToolRegistry } from 'dream-agent';

const dir = process.env['TOOLS_DIR'] ?? fileURLToPath(new URL('../tools', import.meta.url));
const pollMs = process.env['TOOLS_POLL_MS'];

const tools = new ToolRegistry();
tools.on('tool.registered', ({ tool }) => console.log(`registered ${tool.name} v${tool.version}`));
tools.on('tool.updated', ({ tool, previous }) =>
  console.log(`updated ${tool.name} v${previous.version} -> v${tool.version}`),
);
tools.on('tool.removed', ({ name }) => console.log(`removed ${name}`));
tools.on('tool.invalid', ({ errors }) => {
  for (const e of errors) console.log(`invalid ${e.file}:${e.line}:${e.column} ${e.message}`);
});
await tools.watch(dir, pollMs === undefined ? {} : { poll: Number(pollMs) });

const agent = new Agent({
  tools,
  planner: new FunctionPlanner((_intent, input) => ({
    todos: [
      {
        id: 'greet',
        title: 'Greet',
        domain: 'content',
        tool: 'greet.hello',
        input: { name: input },
        dependsOn: [],
      },
    ],
  })),
});

console.log('ready');
let n = 0;
const lines = createInterface({ input: process.stdin });
for await (const line of lines) {
  const name = line.trim();
  if (!name) continue;
  const sessionId = `greet-${++n}`;
  const result = await agent.run(name, { sessionId }).result();
  const todo = (await agent.getSession(sessionId)).todos.find((t) => t.todoId === 'greet');
  const text = (todo?.output as { text?: string } | undefined)?.text;
  console.log(`${result.status}: ${text ?? todo?.error?.message ?? ''} (v${String(todo?.toolVersion)})`);
}
await agent.close();
await tools.close();
