import { describe, expect, it } from "vitest";
import type { RoomParticipant } from "../protocol/events";
import { DEFAULT_QUERY, flagCounts, orderedFlags, urgency, visibleRows, type GridQuery } from "./roster";

function row(name: string, extra: Partial<RoomParticipant> = {}): RoomParticipant {
  return { id: `p-${name}`, name, lab: `lab-${name}`, lesson: null, step: null, last_call: null, sockets: [], flags: [], ...extra };
}

const rows = [
  row("dana", {
    lesson: "partial-send",
    step: 3,
    last_call: "cli.send(...) -> 6144",
    sockets: [{ name: "srv", state: "LISTEN" }, { name: "cli", state: "ESTABLISHED" }, { name: "conn", state: "ESTABLISHED" }],
    flags: ["idle"],
  }),
  row("ali", { lesson: "partial-send", step: 1, last_call: "srv.accept() -> EAGAIN", flags: ["repeating"] }),
  row("cam", { flags: ["help", "idle"] }),
  row("bo", { lesson: "server-sockets", step: 0, sockets: [{ name: "conn", state: "CLOSE_WAIT" }], flags: [] }),
  row("eve", { lesson: "partial-send", step: 1, flags: ["blocked"] }),
];
const names = (list: RoomParticipant[]): string[] => list.map((r) => r.name);
const query = (q: Partial<GridQuery>): GridQuery => ({ ...DEFAULT_QUERY, ...q });

describe("the instructor's grid", () => {
  it("puts whoever needs the instructor first by default: help, then blocked, then the rest", () => {
    expect(names(visibleRows(rows, DEFAULT_QUERY))).toEqual(["cam", "eve", "ali", "dana", "bo"]);
  });

  it("ranks one raised hand above every lesser flag put together", () => {
    expect(urgency(["help"])).toBeGreaterThan(urgency(["blocked", "repeating", "busy_loop", "idle"]));
    expect(urgency([])).toBe(0);
  });

  it("sorts by name either way", () => {
    expect(names(visibleRows(rows, query({ sort: "name" })))).toEqual(["ali", "bo", "cam", "dana", "eve"]);
    expect(names(visibleRows(rows, query({ sort: "name", descending: true })))).toEqual(["eve", "dana", "cam", "bo", "ali"]);
  });

  it("sorts by lesson and step, ties by name, labs with no lesson last", () => {
    expect(names(visibleRows(rows, query({ sort: "lesson" })))).toEqual(["ali", "eve", "dana", "bo", "cam"]);
  });

  it("sorts by the last call, labs with none last", () => {
    expect(names(visibleRows(rows, query({ sort: "last_call" })))).toEqual(["dana", "ali", "bo", "cam", "eve"]);
  });

  it("filters by text over the name, the lesson and the last call, any case", () => {
    expect(names(visibleRows(rows, query({ text: "EAGAIN" })))).toEqual(["ali"]);
    expect(names(visibleRows(rows, query({ text: "server-", sort: "name" })))).toEqual(["bo"]);
    expect(names(visibleRows(rows, query({ text: "  ", sort: "name" })))).toHaveLength(5);
  });

  it("filters by a socket's name or TCP state, and sorts the labs with most sockets first", () => {
    expect(names(visibleRows(rows, query({ text: "close_wait" })))).toEqual(["bo"]);
    expect(names(visibleRows(rows, query({ text: "conn", sort: "name" })))).toEqual(["bo", "dana"]);
    expect(names(visibleRows(rows, query({ sort: "sockets" })))).toEqual(["dana", "bo", "ali", "cam", "eve"]);
  });

  it("filters by one flag, or by any flag", () => {
    expect(names(visibleRows(rows, query({ flag: "idle", sort: "name" })))).toEqual(["cam", "dana"]);
    expect(names(visibleRows(rows, query({ flag: "flagged", sort: "name" })))).toEqual(["ali", "cam", "dana", "eve"]);
  });

  it("does not reorder its input (the poll's array stays as it came)", () => {
    const before = names(rows);
    visibleRows(rows, query({ sort: "name" }));
    expect(names(rows)).toEqual(before);
  });

  it("counts each flag, and orders a row's badges most urgent first", () => {
    expect(flagCounts(rows)).toEqual({ help: 1, blocked: 1, repeating: 1, busy_loop: 0, idle: 2 });
    expect(orderedFlags(["idle", "help", "blocked"])).toEqual(["help", "blocked", "idle"]);
  });

  it("sorts 300 rows quickly enough for a 2 s poll", () => {
    const many = Array.from({ length: 300 }, (_, i) =>
      row(`p${(i * 7919) % 300}`, { lesson: "partial-send", step: i % 7, flags: i % 5 ? [] : ["blocked"] }),
    );
    const start = performance.now();
    for (let i = 0; i < 20; i++) visibleRows(many, query({ sort: i % 2 ? "name" : "flags", text: i % 3 ? "" : "p1" }));
    expect((performance.now() - start) / 20).toBeLessThan(10);
  });
});
