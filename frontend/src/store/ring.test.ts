import { describe, expect, it } from "vitest";
import { Ring, Series } from "./ring";

function ringOf(capacity: number, items: number[]): Ring<number> {
  const ring = new Ring<number>(capacity);
  for (const item of items) ring.push(item);
  return ring;
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from }, (_, i) => from + i);
}

describe("Ring", () => {
  it("holds everything, in order, until it is full", () => {
    const ring = ringOf(4, [1, 2, 3]);
    expect(ring.length).toBe(3);
    expect(ring.toArray()).toEqual([1, 2, 3]);
  });

  it("keeps the newest `capacity` items, oldest first, once it wraps", () => {
    const ring = ringOf(4, range(1, 11)); // 1..10
    expect(ring.length).toBe(4);
    expect(ring.toArray()).toEqual([7, 8, 9, 10]);
  });

  it("stays in order at every fill level across several wraps", () => {
    const ring = new Ring<number>(3);
    for (let i = 1; i <= 10; i++) {
      ring.push(i);
      expect(ring.toArray()).toEqual(range(Math.max(1, i - 2), i + 1));
    }
  });

  it("last(n) gives the newest n items, oldest first", () => {
    const ring = ringOf(5, range(1, 9)); // holds 4..8
    expect(ring.last(2)).toEqual([7, 8]);
    expect(ring.last(0)).toEqual([]);
    expect(ring.last(5)).toEqual([4, 5, 6, 7, 8]);
    expect(ring.last(50)).toEqual([4, 5, 6, 7, 8]);
  });

  it("toArray returns a copy the caller may change", () => {
    const ring = ringOf(3, [1, 2, 3, 4]);
    const copy = ring.toArray();
    copy.push(99);
    expect(ring.toArray()).toEqual([2, 3, 4]);
  });

  it("clear empties it, and it fills again from scratch", () => {
    const ring = ringOf(3, [1, 2, 3, 4, 5]);
    ring.clear();
    expect(ring.length).toBe(0);
    expect(ring.toArray()).toEqual([]);
    ring.push(6);
    ring.push(7);
    expect(ring.toArray()).toEqual([6, 7]);
  });
});

describe("Series", () => {
  it("counts every row pushed, past its capacity too (a chart redraws only when it moved)", () => {
    const series = new Series(2, 1);
    expect(series.pushed).toBe(0);
    for (let i = 0; i < 5; i++) series.push([i]);
    expect([series.pushed, series.length]).toEqual([5, 2]);
  });

  it("keeps its columns aligned, row by row", () => {
    const series = new Series(10, 3);
    series.push([1, 10, 100]);
    series.push([2, 20, 200]);
    expect(series.length).toBe(2);
    expect(series.data()).toEqual([
      [1, 2],
      [10, 20],
      [100, 200],
    ]);
  });

  it("fills a missing value with NaN and ignores extra ones", () => {
    const series = new Series(4, 2);
    series.push([1]);
    series.push([2, 20, 200]);
    const [t, v] = series.data();
    expect(t).toEqual([1, 2]);
    expect(v?.[0]).toBeNaN();
    expect(v?.[1]).toBe(20);
  });

  it("is bounded: past capacity the oldest rows go", () => {
    const series = new Series(5, 2);
    for (let i = 0; i < 12; i++) series.push([i, i * 2]);
    expect(series.length).toBe(5);
    const data = series.data();
    expect(data).toHaveLength(2);
    for (const column of data) expect(column).toHaveLength(5);
  });

  it("reads back oldest first after wrapping, columns still aligned", () => {
    const series = new Series(4, 2);
    for (let i = 1; i <= 7; i++) series.push([i, -i]);
    expect(series.data()).toEqual([
      [4, 5, 6, 7],
      [-4, -5, -6, -7],
    ]);
  });

  it("is right exactly at capacity and one past it", () => {
    const series = new Series(3, 1);
    for (const i of [1, 2, 3]) series.push([i]);
    expect(series.data()).toEqual([[1, 2, 3]]);
    series.push([4]);
    expect(series.data()).toEqual([[2, 3, 4]]);
  });

  it("hands out plain arrays, not views of its buffers", () => {
    const series = new Series(3, 1);
    series.push([1]);
    const first = series.data();
    expect(Array.isArray(first[0])).toBe(true);
    series.push([2]);
    expect(first).toEqual([[1]]);
  });
});
