import { describe, expect, it } from "vitest";
import { addr, notAcceptedText, zeroWindowText, ZERO_WINDOW_TEXT, retransText, sendQueueText, stateBadge, wrap, wrapParts } from "./format";

describe("addr", () => {
  it("writes an IPv6 address in brackets so its port stands apart", () => {
    expect(addr(["127.0.0.1", 20001])).toBe("127.0.0.1:20001");
    expect(addr(["::1", 20001])).toBe("[::1]:20001");
    expect(addr(["::ffff:127.0.0.1", 41000])).toBe("[::ffff:127.0.0.1]:41000");
    expect(addr(null)).toBe("–");
  });
});

describe("stateBadge", () => {
  it("gives a UDP socket its role, not a TCP state it cannot have", () => {
    expect(stateBadge("bound", "UNCONNECTED", true)).toBe("UDP · bound");
    expect(stateBadge("connected", "ESTABLISHED")).toBe("ESTABLISHED");
    expect(stateBadge("bound", undefined)).toBe("bound (not connected)");
  });
});

describe("wrap", () => {
  const width = (s: string) => s.length;
  it("breaks at spaces and gives the text back when joined", () => {
    const lines = wrap("one two three four", 9, width);
    expect(lines).toEqual(["one two ", "three ", "four"]);
    expect(lines.join("")).toBe("one two three four");
  });
  it("keeps a word too long for a line on a line of its own", () => {
    expect(wrap("a verylongword b", 4, width)).toEqual(["a ", "verylongword ", "b"]);
  });
  it("keeps short text on one line", () => {
    expect(wrap("short", 40, width)).toEqual(["short"]);
  });
});

describe("wrapParts", () => {
  const width = (s: string) => s.length;
  it("breaks between the · parts before it breaks words", () => {
    const text = "8.0 KiB not sent yet · 0 B sent, not acknowledged";
    const lines = wrapParts(text, 30, width);
    expect(lines).toEqual(["8.0 KiB not sent yet · ", "0 B sent, not acknowledged"]);
    expect(lines.join("")).toBe(text);
  });
  it("lets a line's trailing separator stick out rather than break it off", () => {
    expect(wrapParts("twenty characters.. · more", 20, width)).toEqual(["twenty characters.. · ", "more"]);
  });
  it("breaks a part too long on its own between words", () => {
    const lines = wrapParts("short · a much longer part than fits", 12, width);
    expect(lines.join("")).toBe("short · a much longer part than fits");
    expect(lines.every((l) => l.trimEnd().length <= 12)).toBe(true);
  });
});

describe("labels", () => {
  it("names a socket that never connected instead of CLOSE", () => {
    expect(stateBadge("new", "CLOSE")).toBe("new (not connected)");
    expect(stateBadge("failed", "CLOSE")).toBe("connect failed");
    expect(stateBadge("connected", "CLOSE")).toBe("CLOSE");
    expect(stateBadge("connected", "ESTABLISHED")).toBe("ESTABLISHED");
  });
  it("says what was retransmitted", () => {
    expect(retransText(0, 0)).toBe("");
    expect(retransText(1, 1)).toBe("retransmitted: 1 segment sent again (no ACK came)");
    expect(retransText(3, 3)).toContain("3 segments sent again (no ACK came) · 3 timeouts in a row");
  });
  it("splits the send queue into not sent and not acknowledged", () => {
    expect(sendQueueText(0, 0)).toBe("");
    expect(sendQueueText(6144, 4096)).toBe("4.0 KiB not sent yet · 2.0 KiB sent, not acknowledged");
  });
});

describe("notAcceptedText", () => {
  it("says queued while the queue holds every client that says connected", () => {
    expect(notAcceptedText("srv", 3, 3)).toBe("in srv's accept queue: not accepted yet");
    expect(notAcceptedText("srv", 1, null)).toBe("in srv's accept queue: not accepted yet");
  });
  it("says some may be half-open when more clients say connected than the queue holds", () => {
    expect(notAcceptedText("srv", 4, 3)).toContain("or still half-open on its side (4 clients say connected; the queue holds 3)");
  });
});

describe("zeroWindowText", () => {
  it("adds the probe timer's backoff once it has doubled", () => {
    expect(zeroWindowText(0)).toBe(ZERO_WINDOW_TEXT);
    expect(zeroWindowText(null)).toBe(ZERO_WINDOW_TEXT);
    expect(zeroWindowText(1)).toContain("doubled 1 time");
    expect(zeroWindowText(3)).toContain("doubled 3 times");
  });
});
