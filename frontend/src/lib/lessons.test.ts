import { describe, expect, it } from "vitest";
import { CLAIMS, agreeToClear, isSkipped, takeAgreedClear } from "./lessons";

describe("lesson labels", () => {
  it("labels every claim of DESIGN.md, 1 to 23, in a few words", () => {
    const numbers = Object.keys(CLAIMS).map(Number).sort((a, b) => a - b);
    expect(numbers).toEqual(Array.from({ length: 23 }, (_, i) => i + 1));
    for (const label of Object.values(CLAIMS)) expect(label.length).toBeGreaterThan(10);
  });

  it("tells a check the machine could not run from one not observed yet", () => {
    expect(isSkipped("not possible on this machine: no namespaces")).toBe(true);
    expect(isSkipped("not yet: no recv() has timed out")).toBe(false);
  });
});

describe("agreeToClear / takeAgreedClear", () => {
  it("an agreement to clear the lab is taken once, for that lesson only", () => {
    agreeToClear("partial-send");
    expect(takeAgreedClear("framing")).toBe(false);
    expect(takeAgreedClear("partial-send")).toBe(true);
    expect(takeAgreedClear("partial-send")).toBe(false); // a second start asks again
  });
});
