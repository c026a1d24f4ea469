import { describe, expect, it } from "vitest";
import type { KernelGroup } from "../protocol/events";
import { lastChoice, predictedText, short } from "./kernels";

const group = (choices: number[], unanswered = 0): KernelGroup => ({
  outcome: "cli.send(b'x' * 1048576)  ->  2621440",
  ran: true,
  labs: choices.reduce((a, b) => a + b, 0) + unanswered,
  participants: [],
  choices,
  unanswered,
});

describe("a kernel group's predictions", () => {
  it("lists the choices picked, the right one marked, and who did not answer", () => {
    expect(predictedText(group([9, 0, 2], 1), ["All of it", "Some of it", "None"], 0)).toBe("✓ “All of it” 9 · “None” 2 · no answer 1");
  });

  it("says nothing was predicted when nobody answered and nobody is counted", () => {
    expect(predictedText(group([0, 0]), ["a", "b"], 1)).toBe("nothing");
    expect(predictedText(group([0, 0], 3), ["a", "b"], 1)).toBe("no answer 3");
  });

  it("cuts a long choice at a word, without a trailing comma", () => {
    expect(short("A new socket connected to that client, and the client's address")).toBe("A new socket connected to that…");
    expect(short("short")).toBe("short");
  });
});

describe("the answer that stands", () => {
  const round = (n: number, choice: number | null) => ({ round: n, choice, revealed: false, counts: null, answer: null });
  it("is the newest round's, else the first round's, else none", () => {
    expect(lastChoice({ lesson: "l", step: 5, rounds: [round(1, 0), round(2, 2)] })).toBe(2);
    expect(lastChoice({ lesson: "l", step: 5, rounds: [round(1, 1), round(2, null)] })).toBe(1);
    expect(lastChoice({ lesson: "l", step: 5, rounds: [round(1, null)] })).toBeUndefined();
    expect(lastChoice({ lesson: "l", step: 5, rounds: [] })).toBeUndefined();
  });
});
