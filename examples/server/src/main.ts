/**
 * `npm start`: the example server. Configuration comes from the environment (docs/server.md).
 */
import { loadConfig } from './config.js';
import { startServer } from './app.js';

const config = loadConfig();
const server = await startServer(config);
let signals = 0;
const stop = (signal: string): void => {
  signals += 1;
  if (signals > 1) process.exit(1); // a second Ctrl-C forces it
  process.stderr.write(`\n${signal}: graceful shutdown (press again to force)\n`);
  server.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
};
process.on('SIGTERM', () => stop('SIGTERM'));
process.on('SIGINT', () => stop('SIGINT'));
process.stderr.write(
  config.devAuth
    ? `\nOpen ${server.url}/ and sign in with a dev token.\n\n`
    : `\nOpen ${server.url}/ and paste a token: npm run token -w @dream-agent/example-server -- alice operator,approver\n` +
        '(or restart with DEV_AUTH=1 for the dev sign-in on this machine).\n\n',
);
