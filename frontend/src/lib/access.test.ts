import { describe, expect, it } from "vitest";
import { observeToken, withAccess } from "./access";

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
