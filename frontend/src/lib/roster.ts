/**
 * The instructor's grid, as data: which participants show, in what order, and how each
 * flag reads. No DOM, no Svelte: the grid view renders what this returns.
 */
import type { RoomParticipant } from "../protocol/events";

export type RoomFlag = RoomParticipant["flags"][number];

/** How a flag reads on its badge, and what its tooltip says. */
export const FLAGS: Record<RoomFlag, { label: string; why: string }> = {
  help: { label: "help", why: "asked for help (the participant's Help button)" },
  blocked: { label: "blocked", why: "a call has been blocked for a while (recv() waiting on a silent peer?)" },
  repeating: { label: "same error", why: "the same error again and again" },
  busy_loop: { label: "busy loop", why: "the select() loop spins without anything to do" },
  idle: { label: "idle", why: "no activity for some minutes" },
};

/** Most urgent first: a raised hand before a stuck call before a quiet lab. */
export const FLAG_ORDER: readonly RoomFlag[] = ["help", "blocked", "repeating", "busy_loop", "idle"];

export type SortKey = "name" | "lesson" | "last_call" | "sockets" | "flags";

export interface GridQuery {
  sort: SortKey;
  descending: boolean;
  /** Matches the name, the lesson or the last call, any case. */
  text: string;
  /** "any": everyone; "flagged": anyone with a flag; or one flag. */
  flag: RoomFlag | "any" | "flagged";
}

export const DEFAULT_QUERY: GridQuery = { sort: "flags", descending: false, text: "", flag: "any" };

/** Bigger for more urgent flags; a row's urgency is the sum over its flags. */
export function urgency(flags: readonly RoomFlag[]): number {
  let total = 0;
  for (const flag of flags) total += 2 ** (FLAG_ORDER.length - FLAG_ORDER.indexOf(flag));
  return total;
}

/** The row's flags, most urgent first. */
export function orderedFlags(flags: readonly RoomFlag[]): RoomFlag[] {
  return FLAG_ORDER.filter((f) => flags.includes(f));
}

function matches(row: RoomParticipant, query: GridQuery): boolean {
  if (query.flag === "flagged" && row.flags.length === 0) return false;
  if (query.flag !== "any" && query.flag !== "flagged" && !row.flags.includes(query.flag)) return false;
  const text = query.text.trim().toLowerCase();
  if (!text) return true;
  return [row.name, row.lesson ?? "", row.last_call ?? "", socketsText(row)].some((field) => field.toLowerCase().includes(text));
}

/** "srv LISTEN cli ESTABLISHED": what the filter matches ("close_wait" finds a stuck peer). */
export function socketsText(row: RoomParticipant): string {
  return row.sockets.map((s) => `${s.name} ${s.state}`).join(" ");
}

/** Where a lab stands in its lesson, as a number to sort by (no lesson: last). */
function progress(row: RoomParticipant): string {
  return row.lesson === null ? "\uffff" : `${row.lesson}\u0000${String(row.step ?? 0).padStart(6, "0")}`;
}

const byName = (a: RoomParticipant, b: RoomParticipant): number =>
  a.name.localeCompare(b.name) || a.id.localeCompare(b.id);

const COMPARE: Record<SortKey, (a: RoomParticipant, b: RoomParticipant) => number> = {
  name: byName,
  lesson: (a, b) => (progress(a) < progress(b) ? -1 : progress(a) > progress(b) ? 1 : 0),
  last_call: (a, b) => (a.last_call ?? "\uffff").localeCompare(b.last_call ?? "\uffff"),
  // The busiest labs first: most sockets.
  sockets: (a, b) => b.sockets.length - a.sockets.length,
  // "Ascending" by flags means the rows that need the instructor first.
  flags: (a, b) => urgency(b.flags) - urgency(a.flags),
};

/** The rows the grid shows, filtered and sorted (ties by name, so rows do not jump). */
export function visibleRows(rows: readonly RoomParticipant[], query: GridQuery): RoomParticipant[] {
  const compare = COMPARE[query.sort];
  const sign = query.descending ? -1 : 1;
  return rows.filter((row) => matches(row, query)).sort((a, b) => sign * compare(a, b) || byName(a, b));
}

/** "12 need a look": counts per flag over every row, for the grid's filter menu. */
export function flagCounts(rows: readonly RoomParticipant[]): Record<RoomFlag, number> {
  const counts: Record<RoomFlag, number> = { help: 0, blocked: 0, repeating: 0, busy_loop: 0, idle: 0 };
  for (const row of rows) for (const flag of row.flags) counts[flag]++;
  return counts;
}
