/**
 * Bars for counts: a vote's distribution, or a room-wide run's outcomes grouped. Each bar's
 * length is its share of the largest, so the biggest group fills the row.
 */
import type { OutcomeGroup } from "../protocol/events";

export interface Bar {
  label: string;
  count: number;
  /** Of the total, 0..100, rounded (what the bar's text says). */
  percent: number;
  /** Of the largest bar, 0..100 (how long the bar is drawn). */
  length: number;
  /** The right answer (a vote), when known. */
  right: boolean;
}

function bars(labels: readonly string[], counts: readonly number[], right: number | null): Bar[] {
  const total = counts.reduce((sum, c) => sum + c, 0);
  const largest = Math.max(0, ...counts);
  return labels.map((label, i) => {
    const count = counts[i] ?? 0;
    return {
      label,
      count,
      percent: total ? Math.round((100 * count) / total) : 0,
      length: largest ? (100 * count) / largest : 0,
      right: right === i,
    };
  });
}

/** One bar per choice, in the question's order (the right one marked when `answer` is given). */
export function voteBars(choices: readonly string[], counts: readonly number[], answer: number | null = null): Bar[] {
  return bars(choices, counts, answer);
}

/** One bar per outcome, largest first, as the server grouped them. */
export function outcomeBars(groups: readonly OutcomeGroup[]): Bar[] {
  const sorted = [...groups].sort((a, b) => b.labs - a.labs || a.outcome.localeCompare(b.outcome));
  return bars(sorted.map((g) => g.outcome), sorted.map((g) => g.labs), null);
}

/** "answered 7 of 12". */
export function answeredText(answered: number, participants: number): string {
  return `answered ${answered} of ${participants}`;
}

/** "41 labs" / "1 lab". */
export function labsText(count: number): string {
  return `${count} lab${count === 1 ? "" : "s"}`;
}
