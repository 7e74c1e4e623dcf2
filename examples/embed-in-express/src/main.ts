/**
 * An existing Express app (its own routes stay as they are) that mounts a dream-agent under `/agent`.
 * The agent has one typed tool and asks a human to approve it before it runs (a refund costs money).
 *
 *   npm start -w @dream-agent/example-embed-in-express      # PORT=3000 by default; PORT=0 picks a free one
 *   curl -XPOST localhost:3000/agent/sessions?wait=true -H 'content-type: application/json' \
 *        -d '{"input":"refund order 42"}'
 */
import express from 'express';
import { z } from 'zod';
import { Agent, FunctionPlanner, ToolRegistry, defineTool } from 'dream-agent';
import { createRouter } from '@dream-agent/http';

const tools = new ToolRegistry();
tools.register(
  defineTool({
    name: 'orders.refund',
    description: 'Refunds an order',
    domain: 'billing',
    input: z.object({ orderId: z.string() }),
    output: z.object({ refunded: z.string() }),
    handler: ({ orderId }) => ({ refunded: orderId }),
  }),
);

const agent = new Agent({
  tools,
  planner: new FunctionPlanner((_intent, input) => ({
    todos: [
      {
        id: 'refund',
        title: 'Refund the order',
        domain: 'billing',
        tool: 'orders.refund',
        input: { orderId: /\d+/.exec(input)?.[0] ?? 'unknown' },
        dependsOn: [],
      },
    ],
  })),
  hitl: { approvals: (todo) => (todo.tool === 'orders.refund' ? 'require' : undefined) },
});

const app = express();
app.get('/health', (_req, res) => {
  res.json({ ok: true }); // the host's own routes, untouched
});
app.use('/agent', createRouter(agent));

const server = app.listen(Number(process.env['PORT'] ?? 3000), '127.0.0.1', () => {
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  console.log(`listening on http://127.0.0.1:${port}`);
});

const stop = (): void => {
  server.close();
  void agent.close();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
