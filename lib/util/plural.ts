/** Counts as people write them: `1 line`, `2 lines`, `0 connections`. */

/** `n` and `noun`, plural unless `n` is 1; `plural` for nouns that do not just add an s. */
export function count(n: number, noun: string, plural = `${noun}s`): string {
  return `${n} ${n === 1 ? noun : plural}`;
}
