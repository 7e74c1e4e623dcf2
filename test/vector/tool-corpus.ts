/**
 * A synthetic catalogue of 500 tools (25 business entities × 20 actions) and 1,000 user requests, two
 * per tool: one that reuses the tool's own words and one paraphrase. Used to measure how often tool
 * search puts the right tool in front of the planner.
 */
const ENTITIES = [
  'invoice',
  'customer',
  'order',
  'shipment',
  'ticket',
  'employee',
  'product',
  'campaign',
  'contract',
  'payment',
  'refund',
  'supplier',
  'warehouse',
  'lead',
  'opportunity',
  'subscription',
  'meeting',
  'expense',
  'timesheet',
  'asset',
  'incident',
  'report',
  'budget',
  'document',
  'survey',
] as const;

const plural = (e: string): string => (e.endsWith('y') ? `${e.slice(0, -1)}ies` : `${e}s`);

/** action → [description template, direct request, paraphrased request]; {e} entity, {es} plural. */
const ACTIONS: Record<string, [string, string, string]> = {
  create: ['Create a new {e} record', 'create a new {e}', 'add another {e} for me'],
  list: [
    'List {es} matching filters such as date range and status',
    'list the {es} from last month',
    'which {es} do we have',
  ],
  get: ['Fetch one {e} by its id with all fields', 'fetch {e} 4711', 'open the {e} with id 12'],
  update: ['Update fields of an existing {e}', 'update the fields of {e} 99', 'change the details of a {e}'],
  delete: ['Delete a {e} permanently', 'delete {e} 5', 'get rid of this {e} for good'],
  export: ['Export {es} to a CSV file', 'export the {es} to csv', 'give me a spreadsheet of all {es}'],
  import: [
    'Import {es} from an uploaded CSV file',
    'import {es} from my csv file',
    'bulk load {es} from an upload',
  ],
  summarize: [
    'Summarize {e} statistics for a period',
    'summarize {e} statistics this quarter',
    'give me the {e} numbers in short',
  ],
  approve: ['Approve a pending {e}', 'approve the pending {e}', 'sign off on this {e}'],
  reject: ['Reject a pending {e} with a reason', 'reject {e} 7 with a reason', 'turn down the {e}'],
  assign: ['Assign a {e} to a team member', 'assign this {e} to Ann', 'make Bob responsible for the {e}'],
  archive: ['Archive old {es}', "archive last year's {es}", 'move old {es} out of the way'],
  search: ['Full-text search across {es}', "search {es} for 'urgent'", 'find {es} mentioning acme'],
  notify: [
    'Send a notification about a {e} by email',
    'send a notification about this {e}',
    'email the team about the {e}',
  ],
  comment: ['Add a comment to a {e}', 'add a comment to {e} 3', 'leave a note on the {e}'],
  forecast: [
    'Forecast future {e} volume',
    'forecast {e} volume for next quarter',
    'predict how many {es} we will get',
  ],
  audit: [
    'Show the audit history of changes to a {e}',
    'show the audit history of {e} 8',
    'who changed the {e} and when',
  ],
  merge: [
    'Merge duplicate {es} into one',
    'merge these duplicate {es}',
    'combine two {es} that are the same',
  ],
  tag: ['Add labels (tags) to a {e}', 'tag {e} 4 as urgent', 'label the {e} vip'],
  count: ['Count {es} by status', 'count the {es} by status', 'how many {es} are open'],
};

/** One synthetic tool. */
export interface CorpusTool {
  name: string;
  description: string;
  tags: string[];
}

/** One request and the tool that serves it. */
export interface CorpusQuery {
  text: string;
  tool: string;
  paraphrase: boolean;
}

const fill = (t: string, e: string): string => t.replaceAll('{es}', plural(e)).replaceAll('{e}', e);

/** @returns the 500 tools and the 1,000 requests */
export function toolCorpus(): { tools: CorpusTool[]; queries: CorpusQuery[] } {
  const tools: CorpusTool[] = [];
  const queries: CorpusQuery[] = [];
  for (const e of ENTITIES) {
    for (const [action, [description, direct, paraphrase]] of Object.entries(ACTIONS)) {
      const name = `${e}.${action}`;
      tools.push({ name, description: fill(description, e), tags: [e, action] });
      queries.push({ text: fill(direct, e), tool: name, paraphrase: false });
      queries.push({ text: fill(paraphrase, e), tool: name, paraphrase: true });
    }
  }
  return { tools, queries };
}
