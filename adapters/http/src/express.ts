import { createRequire } from 'node:module';
import type * as Express from 'express';
import type { Router } from 'express';
import type { Agent } from 'dream-agent';
import { execute, ROUTES, type HttpTransportOptions } from './handler.js';

/**
 * An Express router for the REST API (Express 4 or 5). Mount it where you like; it parses its own JSON
 * bodies with the size limit (an `express.json()` mounted before it is also fine).
 *
 * @param agent - the agent to expose
 * @param options - auth hooks, limits
 * @returns an Express router
 * @example
 * ```ts
 * app.use('/api', createRouter(agent, { authenticate, authorize, onCommand: audit }));
 * ```
 */
export function createRouter(agent: Agent, options: Omit<HttpTransportOptions, 'basePath'> = {}): Router {
  // express is an optional peer: loaded here, on first use, so the framework-neutral handler works without it.
  const express = createRequire(import.meta.url)('express') as typeof Express;
  const router = express.Router();
  for (const route of ROUTES) {
    const register = route.method === 'GET' ? router.get.bind(router) : router.post.bind(router);
    register(route.path, (req, res) => {
      const params: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.params)) if (typeof v === 'string') params[k] = v;
      void execute(agent, route, params, req, res, options);
    });
  }
  return router;
}
