/**
 * Handler of util.echo. Handlers receive the validated input and a ToolContext
 * (signal, idempotencyKey, progress, delta, requestInput, logger, ids).
 *
 * @param {{ text: string, upper: boolean }} input
 * @param {import('dream-agent').ToolContext} ctx
 */
export function echo(input, ctx) {
  ctx.progress('echoing', 50);
  return { text: input.upper ? input.text.toUpperCase() : input.text };
}
