import { describe, expect, it } from "vitest";
import type { RoomMirror, RoomState } from "../protocol/events";
import { mirrorRequest, shownOf } from "./showing";

const NONE: RoomMirror = { lab: null, participant: null, name: null, hide_names: false, question: null };

function state(mirror: Partial<RoomMirror>, revealed: RoomState["revealed"] = [], lesson: string | null = "p"): RoomState {
  return { code: "ABC234", participants: [], lesson, frozen: false, follow: false, follow_step: 0, mirror: { ...NONE, ...mirror }, revealed, limits: { per_client: 3, joins_per_minute: 10 }, refused: [] };
}

describe("what the projector shows, from the server's room", () => {
  it("mirrors the lab with its participant's name, or hides the name on request", () => {
    expect(shownOf(state({ lab: "L1", participant: "p1", name: "ali" }))).toEqual({ lab: "L1", name: "ali", question: null });
    expect(shownOf(state({ lab: "L1", participant: "p1", name: "ali", hide_names: true })).name).toBeNull();
  });

  it("shows the join code while nobody is mirrored, or while the mirrored lab is not made again", () => {
    expect(shownOf(state({})).lab).toBeNull();
    expect(shownOf(state({ participant: "p1", name: "ali" }))).toEqual({ lab: null, name: null, question: null });
  });

  it("shows the newest revealed question of the pushed lesson by itself", () => {
    const revealed = [
      { lesson: "p", step: 5, round: 1 },
      { lesson: "p", step: 7, round: 1 },
      { lesson: "old", step: 2, round: 1 },
    ];
    expect(shownOf(state({}, revealed)).question).toEqual({ lesson: "p", step: 7, round: 1 });
    expect(shownOf(state({}, revealed, null)).question).toBeNull();
  });

  it("shows a pinned question's newest revealed round, and nothing until it is revealed", () => {
    const revealed = [
      { lesson: "p", step: 5, round: 1 },
      { lesson: "p", step: 7, round: 1 },
      { lesson: "p", step: 5, round: 2 },
    ];
    expect(shownOf(state({ question: { lesson: "p", step: 5 } }, revealed)).question).toEqual({ lesson: "p", step: 5, round: 2 });
    expect(shownOf(state({ question: { lesson: "p", step: 9 } }, revealed)).question).toBeNull();
  });
});

describe("a change to the mirror", () => {
  it("keeps what it does not change", () => {
    const now: RoomMirror = { lab: "L1", participant: "p1", name: "ali", hide_names: true, question: { lesson: "p", step: 5 } };
    expect(mirrorRequest(now, { lab: "L2" })).toEqual({ lab: "L2", hide_names: true, question: { lesson: "p", step: 5 } });
    expect(mirrorRequest(now, { hide_names: false })).toEqual({ lab: "L1", hide_names: false, question: { lesson: "p", step: 5 } });
    expect(mirrorRequest(null, { lab: "L3" })).toEqual({ lab: "L3", hide_names: false, question: null });
  });
});
