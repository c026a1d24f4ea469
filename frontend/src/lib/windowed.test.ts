import { describe, expect, it } from "vitest";
import { windowed } from "./windowed";

const hundred = Array.from({ length: 100 }, (_, i) => i);

describe("windowed", () => {
  it("makes only the rows that fill the view, and a few more", () => {
    const { rows, rest } = windowed(hundred, 0, 200, 20, 5);
    expect(rows).toEqual(hundred.slice(0, 15));
    expect(rest).toBe(85);
  });

  it("makes more as the reader scrolls down", () => {
    expect(windowed(hundred, 400, 200, 20, 5).rows.length).toBe(35);
  });

  it("never more than there are", () => {
    expect(windowed(hundred, 10_000, 200, 20)).toEqual({ rows: hundred, rest: 0 });
    expect(windowed([], 0, 200, 20)).toEqual({ rows: [], rest: 0 });
  });

  it("treats a view not laid out yet as empty", () => {
    expect(windowed(hundred, -5, -1, 20, 3).rows.length).toBe(3);
  });
});
