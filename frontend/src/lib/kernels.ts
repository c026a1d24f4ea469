/** The room's predictions beside what each lab's kernel did (GET /api/room/kernels), in words. */
import type { KernelGroup, LabAnswers } from "../protocol/events";

/**
 * "✓ “A new socket…” 9 · “The bytes…” 2 · no answer 1": what a group's people predicted,
 * the right choice marked, choices nobody picked left out.
 */
export function predictedText(group: KernelGroup, choices: readonly string[], answer: number): string {
  const parts: string[] = [];
  group.choices.forEach((count, i) => {
    if (count > 0) parts.push(`${i === answer ? "✓ " : ""}“${short(choices[i] ?? String(i))}” ${count}`);
  });
  if (group.unanswered > 0) parts.push(`no answer ${group.unanswered}`);
  return parts.join(" · ") || "nothing";
}

/** A choice cut to its first words: the group's line stays one line on the instructor's page. */
export function short(choice: string, max = 32): string {
  if (choice.length <= max) return choice;
  const cut = choice.slice(0, max);
  const space = cut.lastIndexOf(" ");
  return `${(space > max / 2 ? cut.slice(0, space) : cut).replace(/[,:;.]$/, "")}…`;
}

/** The participant's answer that stands: the newest round's, else the first (not revoted). */
export function lastChoice(answers: LabAnswers): number | undefined {
  for (let i = answers.rounds.length - 1; i >= 0; i--) {
    const choice = answers.rounds[i]?.choice;
    if (choice !== null && choice !== undefined) return choice;
  }
  return undefined;
}
