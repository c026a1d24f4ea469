/**
 * What the projector shows, read from the server: the instructor sets the mirror with
 * POST /api/room/mirror and the projector page polls GET /api/room (RoomState's `mirror` and
 * `revealed`), so the projector can be another machine (the classroom's PC, signed in with the
 * instructor URL once) instead of a second tab sharing the instructor's localStorage.
 */
import type { MirrorRequest, RoomMirror, RoomState } from "../protocol/events";

export interface Shown {
  /** The lab to mirror, or null: the projector shows the join code and QR. */
  lab: string | null;
  /** The name above the mirror; null when the instructor hides names. */
  name: string | null;
  /** The revealed question (and its round) whose counts the projector shows. */
  question: { lesson: string; step: number; round: number } | null;
}

/**
 * The mirror as the projector shows it. Counts: the question the instructor pinned, once
 * revealed, else the newest revealed question of the pushed lesson (a question of an earlier
 * lesson would puzzle the room).
 */
export function shownOf(state: RoomState): Shown {
  const { mirror, revealed, lesson } = state;
  const pinned = mirror.question;
  const ofLesson = revealed.filter((q) => (pinned ? q.lesson === pinned.lesson && q.step === pinned.step : q.lesson === lesson));
  const question = ofLesson.at(-1) ?? null;
  return {
    lab: mirror.lab,
    name: mirror.hide_names || mirror.lab === null ? null : (mirror.name ?? ""),
    question: question ? { lesson: question.lesson, step: question.step, round: question.round } : null,
  };
}

/** The request that changes one part of the mirror and keeps the rest. */
export function mirrorRequest(now: RoomMirror | null, change: Partial<MirrorRequest>): MirrorRequest {
  return { lab: now?.lab ?? null, hide_names: now?.hide_names ?? false, question: now?.question ?? null, ...change };
}
