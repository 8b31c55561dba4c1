/**
 * Listening on a `--bind` address, the same way for every command: `host:port` as it is printed,
 * the words for the usual failures, a promise around `server.listen`, the master's probe of the
 * address before it forks, and answering clients that half-close. Only Node's own modules here: the `serve` master loads this
 * module and must stay small (no config code, no libvips).
 */
import { maxHeaderSize, type Server as HttpServer } from 'node:http';
import { createServer, type AddressInfo, type Server } from 'node:net';
import type { Duplex } from 'node:stream';

/** An address to listen on; an empty host means every interface (MapProxy's `-b :8080`). */
export interface BindAddress {
  readonly host: string;
  readonly port: number;
}

/**
 * The host to listen on for a `--bind` host: `localhost` is 127.0.0.1. Node listens on the first
 * address a name resolves to, which for `localhost` is often ::1 alone, where an nginx with
 * `server 127.0.0.1:8080` finds nothing; MapProxy's development server (werkzeug) binds
 * `localhost` over IPv4 as well. Other names and addresses stay as given.
 */
export function bindHost(host: string): string {
  return host.toLowerCase() === 'localhost' ? '127.0.0.1' : host;
}

/** `host:port`, with an IPv6 host in brackets and `*` for every interface. */
export function hostPort(host: string, port: number): string {
  if (host === '') return `*:${port}`;
  return `${host.includes(':') ? `[${host}]` : host}:${port}`;
}

/** What the usual listen errors mean; the errno code stays in the text for searching. */
const LISTEN_ERRORS: Readonly<Record<string, string>> = {
  EADDRINUSE: 'the address is already in use (EADDRINUSE)',
  EACCES: 'permission denied; ports below 1024 need privileges (EACCES)',
  EADDRNOTAVAIL: 'the address is not one of this host (EADDRNOTAVAIL)',
  ENOTFOUND: 'host name not found (ENOTFOUND)',
  EAI_AGAIN: 'host name not found (EAI_AGAIN)',
};

/** `cannot listen on <host:port>[ for <what>]: <why>`, the line a user reads. */
export function listenFailure(bind: BindAddress, err: NodeJS.ErrnoException, what = ''): string {
  const why = LISTEN_ERRORS[err.code ?? ''] ?? err.message;
  return `cannot listen on ${hostPort(bind.host, bind.port)}${what ? ` for ${what}` : ''}: ${why}`;
}

/** `server.listen` on `bind` as a promise: resolves once listening, rejects with the listen error. */
export function listenOn(server: Server, bind: BindAddress): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    const ready = (): void => {
      server.off('error', reject);
      resolve();
    };
    if (bind.host === '') server.listen(bind.port, ready);
    else server.listen(bind.port, bind.host, ready);
  });
}

/**
 * Listen on `bind` and close again: whether the workers will be able to. The `serve` master calls
 * it before the first fork, so a port in use or a host name that does not resolve is one line on
 * stderr and exit 1, not workers that fail one after another until the crash-loop limit. Resolves
 * to the port listened on: for port 0 the free port picked, which every worker then takes (asking
 * for port 0 again, a worker replacing the only one would get another port). Rejects with the
 * listen error.
 */
export async function probeBind(bind: BindAddress): Promise<number> {
  const server = createServer();
  await listenOn(server, bind);
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/**
 * Make `server` answer a request whose client closed its sending side right after it (`nc -N`,
 * `curl` with `--no-keepalive` behind some proxies, health checkers, HTTP/1.0 tools): node:http
 * drops such a request unless `httpAllowHalfOpen` is set, and then closes the connection after
 * the answer instead. MapProxy under gunicorn answers them. The property is node:http's own
 * (not in its typings); the server's sockets are half-open already.
 */
export function answerHalfClosed(server: HttpServer): void {
  (server as HttpServer & { httpAllowHalfOpen: boolean }).httpAllowHalfOpen = true;
}

/** The answers to requests node:http cannot read, by the parser's error code; the rest are 400. */
const CLIENT_ERRORS: Readonly<Record<string, readonly [number, string, string]>> = {
  HPE_HEADER_OVERFLOW: [
    431,
    'Request Header Fields Too Large',
    `the request line and headers are longer than the server reads (${maxHeaderSize} bytes)`,
  ],
  HPE_CHUNK_EXTENSIONS_OVERFLOW: [413, 'Payload Too Large', 'the chunk extensions of the request body are too long'],
  ERR_HTTP_REQUEST_TIMEOUT: [408, 'Request Timeout', 'the request did not arrive in time'],
};

/** The raw answer to a request node:http rejects with `err`, closing the connection. */
export function clientErrorAnswer(err: NodeJS.ErrnoException): string {
  const [status, reason, why] = CLIENT_ERRORS[err.code ?? ''] ?? [400, 'Bad Request', 'the request is not valid HTTP/1.1'];
  const body = `${reason}: ${why}\n`;
  return (
    `HTTP/1.1 ${status} ${reason}\r\nContent-Type: text/plain; charset=utf-8\r\n` +
    `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`
  );
}

/** How long a connection whose request was rejected may take to read the answer before it is cut (ms). */
const REJECTED_LINGER_MS = 2000;

/**
 * Make `server` say why it rejects a request it cannot read (a malformed line, a head over
 * node:http's limit, a request that does not arrive in time): node:http answers those with a status
 * line and no body, which a browser shows as an empty page. The status stays node:http's; a body is
 * added. Nothing is written while an earlier request of the connection is still being answered
 * (pipelining): the client would take the rejection for that answer, or find it inside its body.
 * The connection is ended rather than destroyed, so answers queued before it (the fast lane's) and
 * the rejection reach the client, which is still sending; it is cut after `REJECTED_LINGER_MS`.
 * `_httpMessage` is node:http's own (not in its typings): the response in progress on the socket.
 */
export function answerClientErrors(server: HttpServer): void {
  const rejected = new WeakSet<Duplex>();
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    // node:http goes on parsing what the client still sends after the bad head: one answer only.
    if (rejected.has(socket)) return;
    rejected.add(socket);
    const inProgress = (socket as Duplex & { _httpMessage?: unknown })._httpMessage;
    if (err.code === 'ECONNRESET' || !socket.writable || inProgress) {
      socket.destroy(err);
      return;
    }
    socket.end(clientErrorAnswer(err));
    setTimeout(() => socket.destroy(), REJECTED_LINGER_MS).unref();
  });
}
