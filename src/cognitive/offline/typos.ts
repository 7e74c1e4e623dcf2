/**
 * Spelling repair for the words that carry slots: period words (`quater`, `moth`, `yaer`), month names
 * and gazetteer phrases. The entity rules are exact regular expressions, so one slipped key used to lose
 * the whole period; here a word within one edit (two for long words) of a known slot word is replaced by
 * it before entities are extracted. The classifier needs no help: its character n-grams already tolerate
 * typos.
 *
 * @packageDocumentation
 */

/** Words the period rules read (and their plurals), corrected when misspelt. */
const PERIOD_WORDS = [
  'quarter',
  'quarters',
  'month',
  'months',
  'year',
  'years',
  'week',
  'weeks',
  'half',
  'last',
  'previous',
  'this',
  'current',
  'first',
  'second',
  'third',
  'fourth',
  'yesterday',
  'today',
  'january',
  'february',
  'march',
  'april',
  'june',
  'july',
  'august',
  'september',
  'october',
  'november',
  'december',
  'except',
  'excluding',
] as const;

/** Short misspellings an edit distance would over-correct, mapped explicitly. */
const SHORT_FIXES: Readonly<Record<string, string>> = {
  moth: 'month',
  mnth: 'month',
  mont: 'month',
  yaer: 'year',
  yera: 'year',
  eyar: 'year',
  wek: 'week',
  wk: 'week',
  weke: 'week',
  lsat: 'last',
  lats: 'last',
  tihs: 'this',
  thsi: 'this',
  hlaf: 'half',
  hafl: 'half',
  qtr: 'quarter',
};

/** Optimal string alignment distance (Damerau–Levenshtein with adjacent transpositions), capped. */
export function editDistance(a: string, b: string, cap = 3): number {
  if (Math.abs(a.length - b.length) > cap) return cap + 1;
  const rows: number[][] = [];
  for (let i = 0; i <= a.length; i++) {
    const row: number[] = [i];
    for (let j = 1; j <= b.length; j++) {
      if (i === 0) {
        row.push(j);
        continue;
      }
      const prev = rows[i - 1] ?? [];
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min((prev[j] ?? 0) + 1, (row[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        v = Math.min(v, (rows[i - 2]?.[j - 2] ?? 0) + 1);
      }
      row.push(v);
    }
    rows.push(row);
  }
  return rows[a.length]?.[b.length] ?? cap + 1;
}

/**
 * Replaces misspelt slot words in `text` by the word they most likely meant. A word is corrected only
 * when it is not itself a known word, is at least 5 letters long (or in a short list of common slips),
 * and is within one edit of exactly one candidate (two edits for words of 8 letters or more).
 *
 * @param text - the user's text
 * @param vocabulary - extra single words to correct towards (e.g. gazetteer words)
 * @param known - words that are never corrected (correct English words that happen to be close)
 * @returns the text with those words replaced (case of the first letter kept)
 * @example
 * ```ts
 * correctTypos('sales for last quater'); // 'sales for last quarter'
 * ```
 */
export function correctTypos(
  text: string,
  vocabulary: readonly string[] = [],
  known: ReadonlySet<string> = KNOWN_WORDS,
): string {
  const vocab = [...new Set([...PERIOD_WORDS, ...vocabulary.map((v) => v.toLowerCase())])];
  const exact = new Set(vocab);
  return text.replace(/[A-Za-z]{2,}/g, (word) => {
    const lower = word.toLowerCase();
    if (exact.has(lower) || known.has(lower)) return word;
    let fix: string | undefined = SHORT_FIXES[lower];
    // Four-letter words: only a swap of two neighbours, towards a domain word ("emae" → "emea").
    if (fix === undefined && lower.length === 4) {
      const swaps = vocab.filter(
        (v) =>
          v.length === 4 &&
          !PERIOD_WORDS.includes(v as never) &&
          editDistance(lower, v, 1) === 1 &&
          swapOnly(lower, v),
      );
      if (swaps.length === 1) fix = swaps[0];
    }
    if (fix === undefined && lower.length >= 5) {
      const limit = lower.length >= 8 ? 2 : 1;
      let best = limit + 1;
      let count = 0;
      for (const v of vocab) {
        if (v.length < 4) continue;
        const d = editDistance(lower, v, limit);
        if (d < best) {
          best = d;
          fix = v;
          count = 1;
        } else if (d === best) count++;
      }
      if (best > limit || count !== 1) fix = undefined;
    }
    if (fix === undefined) return word;
    return word[0] === word[0]?.toUpperCase() ? fix[0]?.toUpperCase() + fix.slice(1) : fix;
  });
}

/** Common words one edit away from a slot word, left alone. */
const KNOWN_WORDS: ReadonlySet<string> = new Set([
  'years',
  'yearly',
  'weekly',
  'monthly',
  'quarterly',
  'lasts',
  'lasted',
  'these',
  'those',
  'thus',
  'match',
  'marches',
  'marched',
  'mouth',
  'weeks',
  'halve',
  'halves',
  'firsts',
  'seconds',
  'current',
  'currency',
  'accept',
  'expect',
  'excel',
  'juice',
  'julie',
  'today',
  'previously',
  'front',
  'shirt',
  'reach',
  'search',
  'starch',
  'larch',
  'parch',
  'month',
  'april',
  'apply',
  'octane',
]);

function swapOnly(a: string, b: string): boolean {
  const diff = [...a].map((c, i) => (c === b[i] ? -1 : i)).filter((i) => i >= 0);
  return diff.length === 2 && diff[1] === (diff[0] ?? 0) + 1 && a[diff[0] ?? 0] === b[diff[1] ?? 0];
}
