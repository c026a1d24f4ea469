import { describe, expect, it } from "vitest";
import { observeToken, withAccess } from "./access";
import { NOTHING_SHOWN, parseShowing } from "./showing";

describe("an observer's link", () => {
  it("reads the token from the page's address", () => {
    expect(observeToken("?observe=abc_123")).toBe("abc_123");
    expect(observeToken("?lesson=x")).toBeNull();
    expect(observeToken("?observe=")).toBeNull();
  });

  it("adds the token to the page's own URLs, after any query", () => {
    expect(withAccess("/api/labs/L/lesson", "t k")).toBe("/api/labs/L/lesson?observe=t%20k");
    expect(withAccess("/api/labs/L/answers?lesson=a&step=1", "t")).toBe("/api/labs/L/answers?lesson=a&step=1&observe=t");
    expect(withAccess("/api/labs/L", null)).toBe("/api/labs/L");
  });
});

describe("what the projector shows", () => {
  it("reads what the instructor's page wrote", () => {
    const text = JSON.stringify({ lab: "L1", name: "ali", hideNames: true, question: { lesson: "p", step: 2 } });
    expect(parseShowing(text)).toEqual({ lab: "L1", name: "ali", hideNames: true, question: { lesson: "p", step: 2 } });
  });

  it("falls back to nothing on a missing, broken or mistyped value", () => {
    expect(parseShowing(null)).toEqual(NOTHING_SHOWN);
    expect(parseShowing("{not json")).toEqual(NOTHING_SHOWN);
    expect(parseShowing(JSON.stringify({ lab: 3, question: { lesson: "p", step: 1.5 } }))).toEqual(NOTHING_SHOWN);
  });
});
