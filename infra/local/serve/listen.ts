// --listen grammar: "host:port", "[v6]:port", ":port" or "port" (port 0 = any free port).

export interface ListenAddress {
  host: string;
  port: number;
}

export const DEFAULT_LISTEN = '127.0.0.1:8080';

export function parseListen(value: string): ListenAddress {
  const text = value.trim();
  let host = '127.0.0.1';
  let portText = text;
  const v6 = /^\[([^\]]+)\]:(\d+)$/.exec(text);
  if (v6) {
    host = v6[1]!;
    portText = v6[2]!;
  } else if (text.includes(':')) {
    const i = text.lastIndexOf(':');
    if (i > 0) host = text.slice(0, i);
    portText = text.slice(i + 1);
  }
  if (!/^\d+$/.test(portText)) throw new Error(`invalid --listen ${JSON.stringify(value)}: expected host:port, e.g. 127.0.0.1:8080`);
  const port = Number(portText);
  if (port > 65535) throw new Error(`invalid --listen ${JSON.stringify(value)}: port ${port} is out of range`);
  return { host, port };
}

export function formatAddress(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
