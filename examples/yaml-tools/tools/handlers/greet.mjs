/**
 * Handler of greet.hello.
 *
 * @param {{ name: string, greeting: string }} input
 */
export function greet(input) {
  return { text: `${input.greeting}, ${input.name}!` };
}
