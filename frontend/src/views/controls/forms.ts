/**
 * What the lab's forms share, with no Svelte in it: running a command (or a sequence of them),
 * explaining its answer in plain words, and keeping each outcome next to the control that
 * caused it. A socket's own controls keep theirs under "name/key" (see slot()), so switching
 * socket never shows another socket's error.
 */
import type { Command, CommandAnswer, SetSockOpt, SocketInfo } from "../../protocol/events";

export type Answer = CommandAnswer & { status: number };
export type Run = (command: Command) => Promise<Answer>;

/** The server's preview of commands: their Python lines, up to the first it would refuse, and why. */
export interface Preview {
  lines: string[];
  error: { index: number; field: string | null; message: string } | null;
}
export type PreviewFn = (commands: Command[]) => Promise<Preview>;

/** Errors, results and cleanups by slot. The page makes it reactive ($state); tests use plain objects. */
export interface Outcomes {
  errors: Record<string, string>;
  results: Record<string, string>;
  /** What a form did after its create failed half-way (closed the half-made socket). */
  cleanups: Record<string, string>;
}

export function emptyOutcomes(): Outcomes {
  return { errors: {}, results: {}, cleanups: {} };
}

const WHY: Record<string, string> = {
  EAGAIN: "the kernel has no room (or no data) right now, and the socket is non-blocking",
  EINPROGRESS: "the connection is on its way; select() will report the socket writable",
  ECONNREFUSED: "nothing listens on that port",
  ECONNRESET: "the peer reset the connection",
  EPIPE: "the peer is gone; nothing more can be sent",
  ENOTCONN: "the socket is not connected",
  EINVAL: "the kernel says this call makes no sense for the socket in its current state",
  EADDRINUSE: "another socket already uses that address",
  ETIMEDOUT: "the kernel gave up: its data went unacknowledged for too long",
};

/** A refused or failed command, in plain words. */
export function explain(command: Command, answer: CommandAnswer): string {
  const e = answer.error;
  if (!e) return "failed";
  if (e.errno) return `${command.op}() → ${e.errno}: ${WHY[e.errno] ?? e.message}`;
  return `${command.op}(): ${e.message}`;
}

/** What a command that worked did: its last call's line and result. */
export function summary(command: Command, answer: CommandAnswer): string {
  if (answer.blocked) return `${command.op}() is blocked: it returns when the kernel lets it`;
  const call = [...answer.events].reverse().find((e) => e.kind === "call");
  return call && call.kind === "call" ? `${call.line}  →  ${call.result_text}` : "done";
}

/** The slot of a socket's own control. */
export function socketSlot(socket: string, key: string): string {
  return `${socket}/${key}`;
}

/** Where an action's error or result is kept: a socket's own, or the panel's. */
export function slot(key: string, command: Command): string {
  return "socket" in command && typeof command.socket === "string" ? socketSlot(command.socket, key) : key;
}

/** The first of base, base2, base3... that no socket has. */
export function freeName(base: string, taken: Iterable<string>): string {
  const names = new Set(taken);
  if (!names.has(base)) return base;
  let n = 2;
  while (names.has(`${base}${n}`)) n++;
  return `${base}${n}`;
}

/** The buffer sizes a form asks for (an empty field: the kernel's default). */
export function bufOptions(rcv: string, snd: string): Record<string, number> {
  const out: Record<string, number> = {};
  if (String(rcv).trim()) out.rcvbuf = Number(rcv);
  if (String(snd).trim()) out.sndbuf = Number(snd);
  return out;
}

/** Where to connect to reach a socket bound to `local` (0.0.0.0 is reached on 127.0.0.1,
 * IPv6's :: on ::1). */
export function reachable(local: [string, number]): [string, number] {
  const wildcard: Record<string, string> = { "0.0.0.0": "127.0.0.1", "::": "::1" };
  return [wildcard[local[0]] ?? local[0], local[1]];
}

/** The errno a failed connect's SO_ERROR check reported ("... (ECONNREFUSED)"), or "". */
export function soErrorErrno(resultText: string | undefined): string {
  return resultText?.match(/\((E[A-Z]+)\)/)?.[1] ?? "";
}

/** The forms' side of the lab: runs commands and files their outcomes. */
export class Forms {
  constructor(
    private readonly run: Run,
    readonly outcomes: Outcomes,
    /** What commands would run, as the server renders it (nothing runs). */
    readonly preview: PreviewFn,
  ) {}

  error(at: string): string {
    return this.outcomes.errors[at] ?? "";
  }

  result(at: string): string {
    return this.outcomes.results[at] ?? "";
  }

  cleanup(at: string): string {
    return this.outcomes.cleanups[at] ?? "";
  }

  /** One command; its outcome goes in its slot (see slot()). */
  async act(key: string, command: Command): Promise<void> {
    const at = slot(key, command);
    const { errors, results } = this.outcomes;
    errors[at] = "";
    results[at] = "";
    const answer = await this.run(command);
    if (answer.ok) results[at] = summary(command, answer);
    else errors[at] = explain(command, answer);
  }

  /**
   * Commands one after the other, stopping at the first refusal (a non-blocking connect's
   * EINPROGRESS is not one). Returns whether all of them worked.
   */
  async steps(key: string, commands: Command[]): Promise<boolean> {
    const { errors, results, cleanups } = this.outcomes;
    errors[key] = "";
    results[key] = "";
    cleanups[key] = "";
    let made: string | null = null;
    for (const command of commands) {
      const answer = await this.run(command);
      if (!answer.ok && !(command.op === "connect" && answer.error?.errno === "EINPROGRESS")) {
        errors[key] = explain(command, answer);
        // A half-made socket (still "new", or bound but not listening) would only fill the
        // lab's socket cap and take the name: close it, for real, so the call log says so.
        if (made) cleanups[key] = await this.discard(made);
        return false;
      }
      if (command.op === "socket") {
        made = String(command.name);
        this.forget(made); // a new socket under an old name starts with a clean slate
      }
      results[key] = summary(command, answer);
    }
    return true;
  }

  /** Drop what a socket's own controls said (its name is taken by a new socket). */
  forget(name: string): void {
    for (const box of [this.outcomes.errors, this.outcomes.results]) {
      for (const at of Object.keys(box)) if (at.startsWith(`${name}/`)) delete box[at];
    }
  }

  private async discard(name: string): Promise<string> {
    const command: Command = { op: "close", socket: name };
    const answer = await this.run(command);
    if (!answer.ok) return `${name}.close() failed too: ${explain(command, answer)}`;
    return `${name}.close(): the half-made socket is gone; the name ${name} is free again.`;
  }
}

/** What the per-socket fields hold; kept while the picked socket changes. */
export interface SocketFields {
  payloadKind: "size" | "text" | "hex";
  payloadSize: number;
  payloadText: string;
  payloadHex: string;
  bufsize: number;
  sockopt: { option: SetSockOpt["option"]; value: number };
  /** Where a UDP socket's sendto() goes: a lab socket's name, or "__other" (the address below). */
  sendTo: string;
  sendToHost: string;
  sendToPort: number;
}

/** The UDP sockets a datagram from `from` can go to: the lab's other bound ones of its
 * family (an IPv4 socket cannot send to ::1, nor an IPv6 one to a bare 127.0.0.1). */
export function datagramTargets(from: SocketInfo, sockets: SocketInfo[]): SocketInfo[] {
  return sockets.filter(
    (s) => s.name !== from.name && s.type === "SOCK_DGRAM" && s.local !== null && s.family === from.family,
  );
}

export function socketFields(): SocketFields {
  return {
    payloadKind: "size",
    payloadSize: 1048576,
    payloadText: "hello\n",
    payloadHex: "de ad be ef",
    bufsize: 4096,
    sockopt: { option: "TCP_USER_TIMEOUT", value: 3000 },
    sendTo: "",
    sendToHost: "127.0.0.1",
    sendToPort: 20000,
  };
}
