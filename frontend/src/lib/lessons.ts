/** Lessons as the lesson routes send them: generated from backend/sockscope/contract/lessons.py. */
export type { LessonDefinition, LessonOutline, LessonStep, Prediction } from "../protocol/events";

/** What a step or check may need of the machine, in words. */
export const NEEDS: Record<string, string> = {
  private_network: "a private network (root, or user namespaces)",
  ipv6: "IPv6 on this machine's loopback (::1)",
};

/** A check the runner did not evaluate, because the machine lacks what it needs. */
export const isSkipped = (observed: string): boolean => observed.startsWith("not possible on this machine");

/** What every step of a lesson needs of the machine, when they all need the same thing
 * (the panel then says it once, at the top, instead of at each step); else null. */
export function wholeNeeds(steps: { needs: string | null }[]): string | null {
  const first = steps[0]?.needs ?? null;
  return first !== null && steps.every((s) => s.needs === first) ? first : null;
}

/** What a lesson follows: the HOWTO's sections, or (beyond the HOWTO) its own sources. */
export function citation(lesson: { howto_sections: string[]; sources: string[] }): string {
  return lesson.howto_sections.length
    ? `HOWTO: ${lesson.howto_sections.join(" · ")}`
    : `Beyond the HOWTO: ${lesson.sources.join(" · ")}`;
}

/**
 * What a check's line says: its neutral question until the kernel has given its evidence
 * (the claim itself would answer the lesson's questions), then the claim it proves.
 */
export function checkLabel(check: { label: string; asks: string }, passed: boolean | null, observed: string): string {
  return passed === null && !isSkipped(observed) ? check.asks : check.label;
}

/**
 * Lessons whose "this clears the lab" question was already answered yes (by the Lessons…
 * menu), so the lesson panel does not ask a second time. Taking an id removes it.
 */
const clearAgreed = new Set<string>();
export const agreeToClear = (lessonId: string): void => void clearAgreed.add(lessonId);
export const takeAgreedClear = (lessonId: string): boolean => clearAgreed.delete(lessonId);
