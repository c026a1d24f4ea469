/** Lessons as the lesson routes send them: generated from backend/sockscope/contract/lessons.py. */
export type { LessonDefinition, LessonOutline, LessonStep, Prediction } from "../protocol/events";

/** What a step or check may need of the machine, in words. */
export const NEEDS: Record<string, string> = {
  private_network: "a private network (root, or user namespaces)",
};

/** A check the runner did not evaluate, because the machine lacks what it needs. */
export const isSkipped = (observed: string): boolean => observed.startsWith("not possible on this machine");

/** The HOWTO's claims by DESIGN.md number, in a few words (for check labels). */
export const CLAIMS: Record<number, string> = {
  1: "A server socket only produces connected sockets",
  2: "The bind address decides who can connect",
  3: "listen(backlog) queues connections; past it they wait",
  4: "Each client gets an ephemeral port and its own 4-tuple",
  5: "A Unix socket or pipe beats TCP over loopback",
  6: "A makefile() buffer needs flush()",
  7: "send() and recv() may handle fewer bytes than asked",
  8: "recv() returning b'' means the peer closed",
  9: "A silent, open connection makes recv() wait",
  10: "Messages need framing",
  11: "Back-to-back messages can arrive glued",
  12: "A length prefix can arrive split",
  13: "Under load, one send() pass is not enough",
  14: "Byte order: network vs host order",
  15: "shutdown(SHUT_WR): done sending, still listening",
  16: "Close your sockets; a peer that never closes leaves CLOSE_WAIT",
  17: "A peer that dies hard leaves recv() hanging",
  18: "A thread stuck in a blocking call is stuck",
  19: "Non-blocking calls can return having done nothing",
  20: "select() returns the sockets that are ready",
  21: "A healthy socket is always writable: keep it out of writers",
  22: "select() on blocking sockets: would a call block?",
  23: "Three server shapes: thread, process, select()",
};

/** Labels for checks that prove a claim a second way (by check name). */
export const CHECK_LABELS: Record<string, string> = {
  tcp_gives_up: "With packets really lost, TCP retransmits, then gives up",
};

/**
 * Lessons whose "this clears the lab" question was already answered yes (by the Lessons…
 * menu), so the lesson panel does not ask a second time. Taking an id removes it.
 */
const clearAgreed = new Set<string>();
export const agreeToClear = (lessonId: string): void => void clearAgreed.add(lessonId);
export const takeAgreedClear = (lessonId: string): boolean => clearAgreed.delete(lessonId);
