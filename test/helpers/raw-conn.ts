/**
 * A raw HTTP/1.1 client for tests that check the exact bytes a server writes: requests are sent as
 * raw bytes (pipelining, split heads, malformed heads), answers are framed by Content-Length.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';
import { rename, writeFile } from 'node:fs/promises';

/** One answer as it came off the wire. */
export interface Answer {
  readonly status: number;
  /** The header block without the status line and without Date. */
  readonly head: string;
  readonly headers: Map<string, string>;
  readonly body: Buffer;
}

/** A raw keep-alive connection: write bytes, read answers framed by Content-Length. */
export class Conn {
  readonly socket: net.Socket;
  #buf = Buffer.alloc(0);
  #heads: boolean[] = [];
  readonly answers: Answer[] = [];
  /** `Date.now()` when each answer was complete, as `answers` (for tests that time what follows). */
  readonly arrivals: number[] = [];
  closed = false;
  /** `Date.now()` when the connection closed (0 while open). */
  closedAt = 0;
  #wake: (() => void) | null = null;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.on('data', (d: Buffer) => {
      this.#buf = Buffer.concat([this.#buf, d]);
      this.#parse();
    });
    socket.on('close', () => {
      this.closedAt = Date.now();
      this.closed = true;
      this.#wake?.();
    });
    socket.on('error', () => undefined);
  }

  static async open(port: number): Promise<Conn> {
    const socket = net.connect(port, '127.0.0.1');
    await once(socket, 'connect');
    return new Conn(socket);
  }

  /** Send raw bytes; `heads` tells, per request sent, whether it is a HEAD (no body comes back). */
  send(bytes: string, heads: boolean[] = []): void {
    this.#heads.push(...heads);
    this.socket.write(bytes, 'latin1');
  }

  /**
   * Wait until `n` answers have arrived in all (or the connection closed). The default bound is for
   * a loaded machine (an answer may be a meta tile made first); pass `ms` where promptness is the point.
   */
  async until(n: number, ms = 30_000): Promise<Answer[]> {
    const deadline = Date.now() + ms;
    while (this.answers.length < n && !this.closed) {
      if (Date.now() > deadline) throw new Error(`${this.answers.length} of ${n} answers after ${ms} ms`);
      await new Promise<void>((r) => {
        this.#wake = r;
        setTimeout(r, 20);
      });
    }
    return this.answers.slice(0, n);
  }

  /** Resolves when the server has closed the connection (default bound for a loaded machine). */
  async closedByServer(ms = 15_000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!this.closed) {
      if (Date.now() > deadline) throw new Error(`connection still open after ${ms} ms`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  #parse(): void {
    for (;;) {
      const end = this.#buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      const lines = this.#buf.subarray(0, end).toString('latin1').split('\r\n');
      const status = Number(lines[0].split(' ')[1]);
      const headers = new Map<string, string>();
      for (const l of lines.slice(1)) {
        const c = l.indexOf(':');
        headers.set(l.slice(0, c).toLowerCase(), l.slice(c + 1).trim());
      }
      const isHead = this.#heads[this.answers.length] === true;
      const length = isHead || status === 304 ? 0 : Number(headers.get('content-length') ?? 0);
      if (this.#buf.length < end + 4 + length) return;
      const head = lines.slice(1).filter((l) => !/^date:/i.test(l)).join('\r\n');
      this.answers.push({ status, head, headers, body: Buffer.from(this.#buf.subarray(end + 4, end + 4 + length)) });
      this.arrivals.push(Date.now());
      this.#buf = this.#buf.subarray(end + 4 + length);
    }
  }

  close(): void {
    this.socket.destroy();
  }
}

/** A plain keep-alive GET of `path` to 127.0.0.1, with `extra` header lines. */
export const get = (path: string, extra = ''): string => `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n${extra}\r\n`;

/**
 * Replace `file` with `changed` by rename (as every tile writer does) and check what `conn` is
 * answered for `url`, whose answer before was `first`: the old or the new bytes right after, and
 * the new ones for a request sent once `boundMs` (the revalidate bound) has passed since the
 * rename. Waiting longer (a slow CI box) only makes that request later, so this cannot fail by
 * timing. Resolves to the answer after the bound.
 */
export async function rewriteAndCheck(conn: Conn, url: string, file: string, first: Answer, changed: Buffer, boundMs: number): Promise<Answer> {
  assert.ok(!changed.equals(first.body));
  await writeFile(`${file}.new`, changed);
  await rename(`${file}.new`, file);
  const rewritten = Date.now();
  let n = conn.answers.length;
  conn.send(get(url));
  const within = (await conn.until(++n))[n - 1];
  assert.equal(within.status, 200);
  assert.ok(within.body.equals(first.body) || within.body.equals(changed));
  await new Promise((r) => setTimeout(r, Math.max(0, rewritten + boundMs + 50 - Date.now())));
  conn.send(get(url));
  const last = (await conn.until(++n))[n - 1];
  assert.equal(last.status, 200);
  assert.deepEqual(last.body, changed);
  return last;
}
