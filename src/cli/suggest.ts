// "Did you mean ...?": the nearest of some candidate words to a mistyped one.

/** Optimal-string-alignment distance: insertions, deletions, substitutions and swaps of neighbours cost 1. */
export function editDistance(a: string, b: string): number {
  const m = a.length;
  const n = b.length;
  let prev2 = new Array<number>(n + 1).fill(0);
  let prev = Array.from({ length: n + 1 }, (_, j) => j);
  for (let i = 1; i <= m; i++) {
    const cur = new Array<number>(n + 1).fill(0);
    cur[0] = i;
    for (let j = 1; j <= n; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, prev2[j - 2]! + 1);
      cur[j] = d;
    }
    prev2 = prev;
    prev = cur;
  }
  return prev[n]!;
}

/**
 * The candidate closest to `word`, or null when none is close: within an edit distance of a third of the
 * word's length (at least 1, at most 3), or a candidate that starts with the word (2 letters or more).
 * Case and the `-`/`_` spelling are ignored.
 */
export function nearest(word: string, candidates: Iterable<string>): string | null {
  const norm = (s: string): string => s.toLowerCase().replace(/_/g, '-');
  const w = norm(word);
  let best: string | null = null;
  let bestD = Infinity;
  const limit = Math.min(3, Math.max(1, Math.floor(w.length / 3)));
  for (const c of candidates) {
    const n = norm(c);
    let d = editDistance(w, n);
    if (d > limit && w.length >= 2 && n.startsWith(w)) d = limit;
    if (d <= limit && d < bestD) {
      best = c;
      bestD = d;
    }
  }
  return best;
}
