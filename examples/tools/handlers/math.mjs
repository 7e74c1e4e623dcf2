/** @param {{ numbers: number[] }} input */
export function add({ numbers }) {
  return { sum: numbers.reduce((s, n) => s + n, 0) };
}

/** @param {{ a: number, b: number }} input */
export function divide({ a, b }) {
  if (b === 0) {
    // Any thrown error fails the todo with TOOL_FAILED and is not retried. To ask for a retry, throw
    // `new DreamAgentError('UNAVAILABLE', msg)` (or any DreamAgentError with `retryable: true`).
    throw new Error('division by zero');
  }
  return { quotient: a / b };
}
