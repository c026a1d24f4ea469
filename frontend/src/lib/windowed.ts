/**
 * A long list shown newest first, of which only the rows on screen are made: the first
 * ones, down to where the reader has scrolled (and a few more). Rows are at least
 * `rowMinPx` tall, so that many always fill the view; `rest` rows are left for a spacer.
 */
export function windowed<T>(
  all: readonly T[],
  scrollTop: number,
  viewHeight: number,
  rowMinPx: number,
  overscan = 8,
): { rows: T[]; rest: number } {
  const wanted = Math.ceil((Math.max(0, scrollTop) + Math.max(0, viewHeight)) / rowMinPx) + overscan;
  const count = Math.min(all.length, wanted);
  return { rows: all.slice(0, count), rest: all.length - count };
}
