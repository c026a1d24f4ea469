/**
 * What a form will run: its commands, built once for both the preview and the button, and
 * the Python they amount to, rendered by the server (the same text the lab's log shows).
 */
import type { Bind, Command, Connect, Listen, NewSocket, SetSockOpt } from "../../protocol/events";
import { bufOptions, type Preview, type PreviewFn } from "./forms";

export interface ServerForm {
  host: string;
  port: number;
  backlog: number;
  rcvbuf: string;
  sndbuf: string;
  blocking: boolean;
  autoAccept: boolean;
  network: "host" | "private";
}

export function serverCommands(name: string, srv: ServerForm): [NewSocket, Bind, Listen] {
  return [
    { op: "socket", name, options: { ...bufOptions(srv.rcvbuf, srv.sndbuf), blocking: srv.blocking,
                                      auto_accept: srv.autoAccept, network: srv.network } },
    { op: "bind", socket: name, address: [srv.host, Number(srv.port)] },
    { op: "listen", socket: name, backlog: Number(srv.backlog) },
  ];
}

export interface ClientForm {
  rcvbuf: string;
  sndbuf: string;
  blocking: boolean;
}

export function clientCommands(name: string, cli: ClientForm, network: "host" | "private",
                               address: [string, number]): [NewSocket, Connect] {
  return [
    { op: "socket", name, options: { ...bufOptions(cli.rcvbuf, cli.sndbuf), blocking: cli.blocking, network } },
    { op: "connect", socket: name, address },
  ];
}

/** POST /api/labs/{id}/preview: checks and renders, runs nothing. */
export function fetchPreview(labId: () => string): PreviewFn {
  return async (commands) => {
    const response = await fetch(`/api/labs/${labId()}/preview`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ commands }),
    });
    const body = await response.json();
    if (!response.ok) throw new Error(body?.error?.message ?? `the server answered ${response.status}`);
    return body as Preview;
  };
}

/**
 * Previews asked for as a form changes: only the answer to the latest request counts (an
 * earlier one that arrives late is dropped), and a failure says so instead of a stale text.
 */
export class LivePreview {
  private asked = 0;

  constructor(private readonly fetcher: PreviewFn) {}

  async request(commands: Command[]): Promise<Preview | null> {
    const mine = ++this.asked;
    let answer: Preview;
    try {
      answer = await this.fetcher(commands);
    } catch (e) {
      answer = { lines: [], error: { index: -1, field: null, message: `no preview: ${e instanceof Error ? e.message : String(e)}` } };
    }
    return mine === this.asked ? answer : null;
  }
}

export const SOCKOPTS: SetSockOpt["option"][] = ["TCP_USER_TIMEOUT", "SO_KEEPALIVE", "TCP_KEEPIDLE", "TCP_KEEPINTVL", "TCP_KEEPCNT",
                         "TCP_NODELAY", "SO_RCVBUF", "SO_SNDBUF", "SO_RCVLOWAT", "SO_REUSEADDR"];
