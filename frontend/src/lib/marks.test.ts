import { describe, expect, it } from "vitest";
import type { CallEvent } from "../protocol/events";
import { layoutMarks, markAt, markKind, MARKS, markTitle, timelineHeight } from "./marks";

let seq = 0;
function call(over: Partial<CallEvent>): CallEvent {
  seq += 1;
  return {
    kind: "call", seq, t_ns: seq * 1000, call_id: seq, socket: "cli", op: "send", line: "cli.send(b'x' * 10)",
    via: "command", asked: 10, done: 10, data: null, result: 10, result_text: "10", errno: null, error: null,
    started_ns: 0, duration_ns: 0, ...over,
  };
}

describe("transfer marks", () => {
  it("tells a partial send, a full one, a recv, an error and the end of a stream apart", () => {
    expect(markKind(call({ asked: 10, done: 4 }), false)).toBe("partial");
    expect(markKind(call({}), false)).toBe("send");
    expect(markKind(call({ op: "recv", asked: 1024, done: 10 }), false)).toBe("recv");
    expect(markKind(call({ op: "recv", errno: "EAGAIN", done: null }), false)).toBe("err");
    expect(markKind(call({ op: "recv", done: 0 }), false)).toBe("eof");
    // On a UDP socket b'' is a datagram of 0 bytes, not the end of anything.
    expect(markKind(call({ op: "recv", done: 0 }), true)).toBe("recv");
  });

  it("places the oldest call at the left, the newest at the right, a row per socket", () => {
    const calls = [call({ t_ns: 0 }), call({ socket: "srv", op: "recv", t_ns: 500 }), call({ t_ns: 1000 })];
    const marks = layoutMarks(calls, ["cli", "srv"], () => false);
    expect(marks.map((m) => [m.row, m.x])).toEqual([
      [0, MARKS.LEFT],
      [1, MARKS.LEFT + (MARKS.W - MARKS.LEFT - MARKS.RIGHT) / 2],
      [0, MARKS.W - MARKS.RIGHT],
    ]);
    expect(timelineHeight(2)).toBe(2 * MARKS.ROW + 8);
  });

  it("draws what the kernel took as a share of what was asked, never thinner than 3", () => {
    const [half, tiny, failed] = layoutMarks(
      [call({ asked: 100, done: 50 }), call({ asked: 100000, done: 1 }), call({ done: null, errno: "EAGAIN" })],
      ["cli"],
      () => false,
    );
    expect(half?.height).toBe((MARKS.ROW - 18) / 2);
    expect(tiny?.height).toBe(3);
    expect(failed?.height).toBe(0);
  });

  it("finds the mark under the pointer in its own row, the nearest one, and nothing far away", () => {
    const calls = [call({ t_ns: 0 }), call({ t_ns: 10 }), call({ socket: "srv", t_ns: 1000 })];
    const marks = layoutMarks(calls, ["cli", "srv"], () => false);
    const [first, second, other] = marks;
    const y0 = MARKS.TOP + MARKS.ROW / 2;
    expect(markAt(marks, (first?.x ?? 0) + 1, y0)).toBe(first);
    expect(markAt(marks, (second?.x ?? 0) + 2, y0)).toBe(second);
    expect(markAt(marks, (other?.x ?? 0), y0)).toBeNull(); // the same x, the other row
    expect(markAt(marks, (other?.x ?? 0), y0 + MARKS.ROW)).toBe(other);
    expect(markAt(marks, 400, y0)).toBeNull();
  });

  it("says the call, what it returned and what was asked", () => {
    expect(markTitle(call({ line: "cli.send(b'x' * 10)", result_text: "4", asked: 10 }))).toBe("cli.send(b'x' * 10) → 4 (asked 10)");
  });
});
