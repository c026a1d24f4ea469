/** Lesson definitions as GET /api/lessons/{id} returns them (backend/sockscope/lessons/model.py). */
export interface Prediction {
  question: string;
  choices: string[];
  answer: number;
  why: string;
}

export interface LessonStep {
  text: string;
  kind: string; // "command" or an action: wait, pause, ipc, framing, byteorder
  command: Record<string, unknown> | null;
  action: Record<string, unknown> | null;
  predict: Prediction | null;
  /** What the step needs of the machine ("private_network"); skipped, with a reason, without it. */
  needs: string | null;
}

/** What a step or check may need of the machine, in words. */
export const NEEDS: Record<string, string> = {
  private_network: "a private network (root, or user namespaces)",
};

/** A check the runner did not evaluate, because the machine lacks what it needs. */
export const isSkipped = (observed: string): boolean => observed.startsWith("not possible on this machine");

export interface LessonOutline {
  id: string;
  title: string;
  howto_sections: string[];
  claims: number[];
  summary: string;
}

export interface LessonDefinition extends LessonOutline {
  steps: LessonStep[];
  checks: { claim: number; check: string; needs: string | null }[];
}

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
};
