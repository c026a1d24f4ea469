/** The Python a form will run, shown before it runs (the calls' own lines come from the server). */

const PRIVATE_NOTE = "  # in the lab's private network";

export interface ServerForm {
  host: string;
  port: number;
  backlog: number;
  rcvbuf: string;
  sndbuf: string;
  blocking: boolean;
  network: "host" | "private";
}

export function serverLines(name: string, srv: ServerForm): string[] {
  return [
    `${name} = socket.socket(socket.AF_INET, socket.SOCK_STREAM)${srv.network === "private" ? PRIVATE_NOTE : ""}`,
    srv.rcvbuf && `${name}.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, ${srv.rcvbuf})`,
    srv.sndbuf && `${name}.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, ${srv.sndbuf})`,
    !srv.blocking && `${name}.setblocking(False)`,
    `${name}.bind(('${srv.host}', ${srv.port}))${Number(srv.port) === 0 ? "  # any free lab port" : ""}`,
    `${name}.listen(${srv.backlog})`,
  ].filter(Boolean) as string[];
}

export interface ClientForm {
  rcvbuf: string;
  sndbuf: string;
  blocking: boolean;
}

export function clientLines(name: string, cli: ClientForm, network: string, address: [string, number]): string[] {
  return [
    `${name} = socket.socket(socket.AF_INET, socket.SOCK_STREAM)${network === "private" ? PRIVATE_NOTE : ""}`,
    cli.sndbuf && `${name}.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, ${cli.sndbuf})`,
    cli.rcvbuf && `${name}.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, ${cli.rcvbuf})`,
    !cli.blocking && `${name}.setblocking(False)`,
    `${name}.connect(('${address[0]}', ${address[1]}))`,
  ].filter(Boolean) as string[];
}

export const SOCKOPTS = ["TCP_USER_TIMEOUT", "SO_KEEPALIVE", "TCP_KEEPIDLE", "TCP_KEEPINTVL", "TCP_KEEPCNT",
                         "TCP_NODELAY", "SO_RCVBUF", "SO_SNDBUF", "SO_RCVLOWAT", "SO_REUSEADDR"];

export function sockoptLevel(option: string): string {
  return option.startsWith("TCP_") ? "IPPROTO_TCP" : "SOL_SOCKET";
}
