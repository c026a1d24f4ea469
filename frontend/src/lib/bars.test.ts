import { describe, expect, it } from "vitest";
import { answeredText, labsText, outcomeBars, voteBars } from "./bars";

describe("vote bars", () => {
  it("gives each choice its count, its share of the total and a length against the largest", () => {
    const bars = voteBars(["all of it", "part of it", "nothing"], [1, 3, 0], 1);
    expect(bars.map((b) => [b.label, b.count, b.percent, b.length, b.right])).toEqual([
      ["all of it", 1, 25, 100 / 3, false],
      ["part of it", 3, 75, 100, true],
      ["nothing", 0, 0, 0, false],
    ]);
  });

  it("draws nothing and divides by nothing when nobody answered", () => {
    const bars = voteBars(["a", "b"], [0, 0]);
    expect(bars.map((b) => [b.percent, b.length, b.right])).toEqual([[0, 0, false], [0, 0, false]]);
  });

  it("counts a choice the server did not count as zero", () => {
    expect(voteBars(["a", "b", "c"], [2]).map((b) => b.count)).toEqual([2, 0, 0]);
  });

  it("reads answered N of M", () => {
    expect(answeredText(7, 12)).toBe("answered 7 of 12");
  });
});

describe("a room-wide run's outcomes", () => {
  it("shows the groups largest first, as bars against the largest", () => {
    const bars = outcomeBars([
      { outcome: "returned 4096", labs: 3, participants: [] },
      { outcome: "returned 6144", labs: 41, participants: [] },
      { outcome: "EAGAIN", labs: 2, participants: [] },
    ]);
    expect(bars.map((b) => b.label)).toEqual(["returned 6144", "returned 4096", "EAGAIN"]);
    expect(bars[0]?.length).toBe(100);
    expect(bars[2]?.percent).toBe(4);
  });

  it("says lab or labs", () => {
    expect(labsText(1)).toBe("1 lab");
    expect(labsText(41)).toBe("41 labs");
  });
});
