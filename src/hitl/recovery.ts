import type { Plan } from '../model/plan.js';
import type { ToolCatalog } from '../tools/types.js';

/**
 * The roles a recovery `retry` of a todo needs: when a human granted its approval before the crash, the
 * roles that approval required (its tool's and its own, as when the approval was asked), so that running
 * the approved effect again is not decided by someone who could not have approved it once. Empty when
 * the todo ran without a human approval (ungated, or approved by the policy).
 *
 * @param todo - the plan todo that was running
 * @param approvedBy - who approved it (`'policy'` for the approval policy), if anyone
 * @param tools - the tool catalog (for the tool's declared approval roles)
 * @returns the roles, deduplicated; empty means any commander of the session may retry
 * @internal
 */
export function recoveryRetryRoles(
  todo: Plan['todos'][number] | undefined,
  approvedBy: string | undefined,
  tools: ToolCatalog,
): string[] {
  if (!todo || approvedBy === undefined || approvedBy === 'policy') return [];
  const tool = todo.tool ? tools.get(todo.tool) : undefined;
  const own = typeof todo.approval === 'object' ? (todo.approval.roles ?? []) : [];
  return [...new Set([...(tool?.approval.roles ?? []), ...own])];
}
