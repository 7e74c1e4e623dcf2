import fc from 'fast-check';

// Property tests explore new inputs on every local run, but a CI run must be reproducible: under CI=true
// every fc.assert starts from one fixed seed, so a red build is the code's doing and replays exactly.
// FC_SEED=<n> replays any run (fast-check prints the seed of a failure); FC_SEED=random forces exploration.
const requested = process.env['FC_SEED'];
const seed =
  requested === 'random'
    ? undefined
    : requested !== undefined && requested !== ''
      ? Number(requested)
      : process.env['CI'] === 'true'
        ? 20_261_201
        : undefined;
if (seed !== undefined && Number.isFinite(seed)) fc.configureGlobal({ ...fc.readConfigureGlobal(), seed });
