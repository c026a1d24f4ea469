import { describe, expect, it } from "vitest";
import type { CallEvent, EventsRowsMessage, SelectEvent } from "./events";
import { RowStrings, eventsOfRows, patternText } from "./rows";

// A site is [socket, op, line head, line tail]; an error [errno, message]; lists [r, w].
const STRINGS = [
  null,
  ["conn", "recv", "data = conn.recv(", ")"],
  [["srv", "conn"], ["cli"]],
  ["ECONNRESET", "[Errno 104] Connection reset by peer"],
  ["cli", "send", "cli.send(view[", ":])"],
];

function message(first: number, events: EventsRowsMessage["events"], from = 0, values: unknown[] = STRINGS): EventsRowsMessage {
  return { type: "events/rows", first, strings: { from, values }, events };
}

// kind, t_ns, call_id, site, arg, asked, done, offset, started, duration, failed, note, flags
const recvRow = (done: number, offset: number, extra: unknown[] = [], flags = 3, note = 0) =>
  [1, 5000, 7, 1, 1024, 1024, done, offset, 4000, 900, 0, note, flags, ...extra];

describe("patternText", () => {
  it("is 8-byte blocks numbered in hex, cut anywhere", () => {
    expect(patternText(0, 20)).toBe("0000000|0000001|0000");
    expect(patternText(13, 6)).toBe("01|000");
    expect(patternText(8 * 0xfffffff + 4, 12)).toBe("fff|0000000|"); // seven digits wrap
    expect(patternText(5, 0)).toBe("");
  });
});

describe("eventsOfRows", () => {
  it("reads a recv() of the pattern: head, hex up to 256 bytes, its result", () => {
    const strings = new RowStrings();
    const [small, big] = eventsOfRows(message(41, [recvRow(10, 16), recvRow(1024, 8)]), strings) as CallEvent[];
    expect(small).toMatchObject({
      kind: "call", seq: 41, socket: "conn", op: "recv", line: "data = conn.recv(1024)", via: "loop",
      asked: 1024, done: 10, result: 10, result_text: "b'0000002|00' (10 bytes)", errno: null,
    });
    expect(small?.data).toEqual({
      len: 10, offset: 16, head: "b'0000002|00'", truncated: false, hex: "303030303030327c3030",
    });
    expect(big?.seq).toBe(42);
    expect(big?.data?.head).toBe(`b'${patternText(8, 48)}'`);
    expect(big?.data).toMatchObject({ truncated: true, hex: null });
    expect(big?.result_text).toBe(`b'${patternText(8, 48)}'... (1024 bytes)`);
  });

  it("takes kept bytes' repr and hex as the server made them", () => {
    const [event] = eventsOfRows(message(1, [recvRow(2, 0, ["b'\\n\\x00'", "0a00"], 2)]), new RowStrings()) as CallEvent[];
    expect(event?.data).toEqual({ len: 2, offset: 0, head: "b'\\n\\x00'", truncated: false, hex: "0a00" });
    expect(event?.result_text).toBe("b'\\n\\x00' (2 bytes)");
  });

  it("says why a recv() read nothing, and reads a send() as its count", () => {
    const strings = new RowStrings();
    const [closed, shut] = eventsOfRows(message(1, [recvRow(0, 99, [], 2), recvRow(0, 99, [], 2, 2)]), strings) as CallEvent[];
    expect(closed?.result_text).toBe("b'' (peer closed)");
    expect(shut?.result_text).toBe("b'' (this side was shut down)");
    expect(closed?.data).toEqual({ len: 0, offset: 99, head: "b''", truncated: false, hex: "" });
    const send = [1, 1, 2, 4, 4096, 60000, 4096, 4096, 1, 1, 0, 0, 1];
    const [sent] = eventsOfRows(message(3, [send], 5, []), strings) as CallEvent[];
    expect(sent).toMatchObject({ line: "cli.send(view[4096:])", result: 4096, result_text: "4096" });
  });

  it("reads a failed call with its errno", () => {
    const failed = [1, 1, 2, 1, 1024, 1024, -1, 0, 1, 1, 3, 0, 2];
    const [event] = eventsOfRows(message(1, [failed]), new RowStrings()) as CallEvent[];
    expect(event).toMatchObject({
      done: null, data: null, result: null, result_text: "ECONNRESET", errno: "ECONNRESET",
      error: "[Errno 104] Connection reset by peer",
    });
  });

  it("reads a select() turn's ready sets from its masks, up to 53 names", () => {
    const names = Array.from({ length: 53 }, (_, i) => `c${i}`);
    const strings = new RowStrings();
    const values = [...STRINGS, [names, []]];
    const turn = [2, 900, 12, 2, 0.25, 3000, 1, 7, 0b10, 0b1];
    const wide = [2, 901, 13, 5, null, 1, 0, 0, 2 ** 52 + 1, 0];
    const [a, b] = eventsOfRows(message(1, [turn, wide], 0, values), strings) as SelectEvent[];
    expect(a).toEqual({
      kind: "select", seq: 1, t_ns: 900, iteration: 12, readers: ["srv", "conn"], writers: ["cli"],
      errors: [], timeout: 0.25, ready_readers: ["conn"], ready_writers: ["cli"], ready_errors: [],
      blocked_ns: 3000, woken: true, idle_before: 7,
    });
    expect(b?.ready_readers).toEqual(["c0", "c52"]);
  });

  it("passes an object event through, and keeps the strings of earlier messages", () => {
    const strings = new RowStrings();
    eventsOfRows(message(1, [recvRow(1, 0)]), strings);
    const socketClosed = { kind: "socket_closed", seq: 2, t_ns: 1, socket: "conn", why: "closed" };
    const events = eventsOfRows(message(2, [socketClosed as never, recvRow(1, 1)], STRINGS.length, []), strings);
    expect(events[0]).toBe(socketClosed);
    expect((events[1] as CallEvent).socket).toBe("conn");
    expect(strings.size).toBe(STRINGS.length);
  });

  it("refuses a row it cannot read", () => {
    expect(() => eventsOfRows(message(1, [[9, 1]]), new RowStrings())).toThrow(/unknown kind 9/);
    expect(() => eventsOfRows(message(1, [recvRow(1, 0)], 0, [null]), new RowStrings())).toThrow(/no string numbered 1/);
    expect(() => eventsOfRows(message(1, [], 3, []), new RowStrings())).toThrow(/strings from 3/);
  });
});
