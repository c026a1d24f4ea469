/**
 * The transfers timeline's geometry, apart from its drawing: one row per socket, one
 * mark per send()/recv() call placed by time, its bar as tall as the share of what was
 * asked that the kernel took. The view draws these on a canvas (in a flood the newest
 * 240 calls change every frame, and an SVG element per mark was most of the page's work)
 * and finds the mark under the pointer here.
 */
import type { CallEvent } from "../protocol/events";

export const MARKS = { W: 760, ROW: 56, LEFT: 120, RIGHT: 16, TOP: 4, HIT_PX: 6 } as const;

export type MarkKind = "send" | "partial" | "recv" | "err" | "eof";

export interface Mark {
  call: CallEvent;
  row: number;
  kind: MarkKind;
  /** Centre of the mark, in the timeline's own units (it is MARKS.W wide). */
  x: number;
  /** Height of the part the kernel took (0 for an error or b''). */
  height: number;
}

/** What kind of mark a call is; `datagram` says the socket is UDP (b'' ends no stream). */
export function markKind(c: CallEvent, datagram: boolean): MarkKind {
  if (c.errno) return "err";
  if (c.op === "recv" && c.done === 0 && !datagram) return "eof";
  if (c.asked !== null && c.done !== null && c.done < c.asked && c.op === "send") return "partial";
  return c.op === "recv" || c.op === "recvfrom" ? "recv" : "send";
}

export function markHeight(c: CallEvent): number {
  if (!c.asked || c.done === null) return 0;
  return Math.max(3, (c.done / c.asked) * (MARKS.ROW - 18));
}

/** Lay out the calls (oldest first): rows in `names` order, x by time across the row. */
export function layoutMarks(
  calls: readonly CallEvent[],
  names: readonly string[],
  datagram: (socket: string) => boolean,
): Mark[] {
  const t0 = calls[0]?.t_ns ?? 0;
  const t1 = Math.max(t0 + 1, calls[calls.length - 1]?.t_ns ?? 1);
  const span = MARKS.W - MARKS.LEFT - MARKS.RIGHT;
  const rows = new Map(names.map((n, i) => [n, i]));
  return calls.map((call) => ({
    call,
    row: rows.get(call.socket) ?? 0,
    kind: markKind(call, datagram(call.socket)),
    x: MARKS.LEFT + ((call.t_ns - t0) / (t1 - t0)) * span,
    height: markHeight(call),
  }));
}

/** The timeline's height in its own units. */
export function timelineHeight(rows: number): number {
  return rows * MARKS.ROW + 8;
}

/** The mark under a point (timeline units): in its row, the nearest within HIT_PX, newest
 * first when two are as near. */
export function markAt(marks: readonly Mark[], x: number, y: number): Mark | null {
  const row = Math.floor((y - MARKS.TOP) / MARKS.ROW);
  let best: Mark | null = null;
  let bestDistance: number = MARKS.HIT_PX;
  for (const mark of marks) {
    if (mark.row !== row) continue;
    const distance = Math.abs(mark.x - x);
    if (distance <= bestDistance) {
      best = mark;
      bestDistance = distance;
    }
  }
  return best;
}

/** What a mark's tooltip says. */
export function markTitle(c: CallEvent): string {
  return `${c.line} → ${c.result_text}${c.asked !== null ? ` (asked ${c.asked})` : ""}`;
}
