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
  /** TCP (a listening socket) or UDP (a bound socket that receives datagrams). */
  kind?: "tcp" | "udp";
}

/** The family and type options for an address and a protocol; only what differs from
 * socket()'s AF_INET, SOCK_STREAM, so a plain TCP/IPv4 form sends what it always sent. */
export function kindOptions(host: string, kind: "tcp" | "udp" = "tcp"): Partial<NewSocket["options"] & object> {
  const out: Partial<NewSocket["options"] & object> = {};
  if (host.includes(":")) out.family = "AF_INET6";
  if (kind === "udp") out.type = "SOCK_DGRAM";
  return out;
}

export function serverCommands(name: string, srv: ServerForm): Command[] {
  const udp = srv.kind === "udp";
  const socket: NewSocket = {
    op: "socket",
    name,
    options: { ...bufOptions(srv.rcvbuf, srv.sndbuf), ...kindOptions(srv.host, srv.kind), blocking: srv.blocking,
               ...(udp ? {} : { auto_accept: srv.autoAccept }), network: srv.network },
  };
  const bind: Bind = { op: "bind", socket: name, address: [srv.host, Number(srv.port)] };
  if (udp) return [socket, bind]; // UDP has no listen(): a bound socket receives already
  const listen: Listen = { op: "listen", socket: name, backlog: Number(srv.backlog) };
  return [socket, bind, listen];
}

export interface ClientForm {
  rcvbuf: string;
  sndbuf: string;
  blocking: boolean;
  kind?: "tcp" | "udp";
}

/** A TCP client connects; a UDP one is only made (its sendto() names where each datagram goes). */
export function clientCommands(name: string, cli: ClientForm, network: "host" | "private",
                               address: [string, number]): Command[] {
  const socket: NewSocket = {
    op: "socket",
    name,
    options: { ...bufOptions(cli.rcvbuf, cli.sndbuf), ...kindOptions(address[0], cli.kind), blocking: cli.blocking, network },
  };
  if (cli.kind === "udp") return [socket];
  const connect: Connect = { op: "connect", socket: name, address };
  return [socket, connect];
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
                         "TCP_NODELAY", "SO_RCVBUF", "SO_SNDBUF", "SO_RCVLOWAT", "SO_REUSEADDR", "IPV6_V6ONLY"];
