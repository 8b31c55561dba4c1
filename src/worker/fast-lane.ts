/**
 * The fast lane of a worker's HTTP server: hot tile answers written straight to the socket.
 *
 * Every connection the worker accepts is read here first. A request head that is a plain
 * `GET <path> HTTP/1.1` with nothing that changes its answer or its framing, and whose answer the
 * app can replay (`RequestHandler.fastAnswer`: a tile version held fresh in the memory tier, or
 * kept as an open file: one stat and one pread away), is answered with the bytes node:http would
 * have written (status line, the same headers, Date, Connection, Keep-Alive, body). That skips node:http's request and response objects, which cost
 * more than the whole answer.
 *
 * Everything else goes to the real node:http server through a `Backend`, an in-memory Duplex
 * injected with `server.emit('connection')` (documented for any Duplex):
 * - a clean GET or HEAD head that cannot be replayed is forwarded alone, and the lane waits until
 *   node:http has written its whole answer before it reads the next request, so answers leave in
 *   request order;
 * - anything the lane does not fully understand (another method, a body, HTTP/1.0, a malformed or
 *   oversized head, a head split across reads) hands the rest of the connection to node:http for
 *   good: it parses, times out and rejects as it always does.
 * While the server drains, every request is forwarded, so node:http adds `Connection: close` or
 * answers 503 as the drain asks.
 */
import type { Server as HttpServer, OutgoingHttpHeaders } from 'node:http';
import type { Socket } from 'node:net';
import { Duplex } from 'node:stream';
import type { FastAnswer, FastAnswerLookup } from '../app/hot-answers.js';

/** What a lane needs from its server. */
export interface FastLaneOptions {
  /** The node:http server that answers what the lane does not. */
  readonly http: HttpServer;
  readonly lookup: FastAnswerLookup;
  /** False while the server drains: every request then goes to node:http. */
  readonly open: () => boolean;
  /** Called once per request answered in the lane. */
  readonly answered: () => void;
}

/** node:http's default limit on a request head (`--max-http-header-size`). */
const MAX_HEAD = 16 * 1024;
/** node:http keeps an idle keep-alive connection this much longer than it announces. */
const KEEP_ALIVE_GRACE_MS = 1000;
/** Stop reading while this much is waiting to be sent (node:http pauses likewise). */
const HIGH_WATER = 256 * 1024;
const REQUEST_LINE = /^(GET|HEAD) (\/[\x21-\x7e]*) HTTP\/1\.1$/;
// RFC 9110 token, a colon, then the rest of the line (no CR or LF: `.` stops at them). The value
// is checked and trimmed by `fieldValue`, in linear time: one regex doing all three backtracked
// cubically on a long run of spaces before a control byte (seconds per request).
const HEADER_LINE = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+):(.*)$/;
// A byte a field value may not hold: not visible ASCII, space, tab or obs-text.
const BAD_VALUE_BYTE = /[^\t\x20-\x7e\x80-\xff]/;

/** The field value of a header line's rest with OWS trimmed, or undefined when it holds a bad byte. */
function fieldValue(rest: string): string | undefined {
  if (BAD_VALUE_BYTE.test(rest)) return undefined;
  let start = 0;
  let end = rest.length;
  while (start < end && (rest.charCodeAt(start) === 0x20 || rest.charCodeAt(start) === 0x09)) start++;
  while (end > start && (rest.charCodeAt(end - 1) === 0x20 || rest.charCodeAt(end - 1) === 0x09)) end--;
  return rest.slice(start, end);
}

/** How a request head is taken. */
type Head =
  | { readonly kind: 'fast'; readonly url: string; readonly scriptName: string | undefined; readonly end: number }
  | { readonly kind: 'forward'; readonly end: number }
  | { readonly kind: 'pass' };

const PASS: Head = { kind: 'pass' };

/**
 * Classify the request head at the start of `buf` (latin1): `fast` when it may be answered from
 * the lane, `forward` when it is a clean bodyless GET/HEAD for node:http, `pass` otherwise.
 * `end` is the offset after the blank line.
 */
export function classifyHead(buf: string): Head {
  const blank = buf.indexOf('\r\n\r\n');
  if (blank < 0 || blank + 4 > MAX_HEAD) return PASS;
  const lines = buf.slice(0, blank).split('\r\n');
  const first = REQUEST_LINE.exec(lines[0]);
  if (first === null) return PASS;
  let fast = first[1] === 'GET';
  let hosts = 0;
  let scriptName: string | undefined;
  for (let i = 1; i < lines.length; i++) {
    const m = HEADER_LINE.exec(lines[i]);
    if (m === null) return PASS;
    const value = fieldValue(m[2]);
    if (value === undefined) return PASS;
    switch (m[1].toLowerCase()) {
      case 'content-length':
      case 'transfer-encoding':
      case 'upgrade':
      case 'expect':
        return PASS;
      case 'host':
        hosts++;
        break;
      case 'connection':
        if (value.toLowerCase() !== 'keep-alive') fast = false;
        break;
      case 'if-none-match':
      case 'if-modified-since':
        fast = false;
        break;
      case 'x-script-name':
        if (scriptName !== undefined) fast = false;
        scriptName = value;
        break;
      default:
        break;
    }
  }
  if (hosts !== 1) fast = false;
  return fast ? { kind: 'fast', url: first[2], scriptName, end: blank + 4 } : { kind: 'forward', end: blank + 4 };
}

/**
 * Status line and header block by answer (the headers objects of the app's replay slots), as one
 * latin1 string: built once per remembered answer, then only written (a string in V8's heap at
 * its own size; a Buffer of it would be a slice pinning an 8 KiB pool slab).
 */
const heads = new WeakMap<OutgoingHttpHeaders, string>();

/** `HTTP/1.1 200 OK` and the answer's own headers, as node:http's writeHead writes them. */
function headOf(headers: OutgoingHttpHeaders): string {
  const head = heads.get(headers);
  if (head !== undefined) return head;
  let text = 'HTTP/1.1 200 OK\r\n';
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    if (Array.isArray(value)) for (const v of value) text += `${name}: ${v}\r\n`;
    else text += `${name}: ${String(value)}\r\n`;
  }
  heads.set(headers, text);
  return text;
}

let dateSecond = -1;
let dateLine = '';
/** The Date line of this second followed by a connection tail, per tail (one per server). */
const dateTails = new Map<string, Buffer>();

/**
 * The Date line of this second (node:http caches its own the same way) and `tail` after it, as
 * bytes.
 */
function dateAndTail(tail: string): Buffer {
  const now = Date.now();
  const second = Math.floor(now / 1000);
  if (second !== dateSecond) {
    dateSecond = second;
    dateLine = `Date: ${new Date(now).toUTCString()}\r\n`;
    dateTails.clear();
  }
  let bytes = dateTails.get(tail);
  if (bytes === undefined) {
    bytes = Buffer.from(dateLine + tail, 'latin1');
    dateTails.set(tail, bytes);
  }
  return bytes;
}

/**
 * The tail node:http adds to a keep-alive answer of `server` (the worker never sets
 * `maxRequestsPerSocket`, which would add `max=` and which the lane would not count).
 */
function keepAliveTail(server: HttpServer): string {
  const keepAlive = server.keepAliveTimeout > 0 ? `Keep-Alive: timeout=${Math.floor(server.keepAliveTimeout / 1000)}\r\n` : '';
  return `Connection: keep-alive\r\n${keepAlive}\r\n`;
}

/**
 * node:http's side of a lane connection: what the lane forwards is its input, what node:http
 * writes goes to the real socket. It reports the real socket's addresses and byte counts.
 */
export class Backend extends Duplex {
  readonly #lane: LaneConnection;

  constructor(lane: LaneConnection) {
    super({ allowHalfOpen: true });
    this.#lane = lane;
  }

  /** The connection this is node:http's side of. */
  get lane(): LaneConnection {
    return this.#lane;
  }

  get remoteAddress(): string | undefined {
    return this.#lane.socket.remoteAddress;
  }

  get remotePort(): number | undefined {
    return this.#lane.socket.remotePort;
  }

  get remoteFamily(): string | undefined {
    return this.#lane.socket.remoteFamily;
  }

  get localAddress(): string | undefined {
    return this.#lane.socket.localAddress;
  }

  get localPort(): number | undefined {
    return this.#lane.socket.localPort;
  }

  get bytesWritten(): number {
    return this.#lane.socket.bytesWritten;
  }

  get bytesRead(): number {
    return this.#lane.socket.bytesRead;
  }

  /** node:http's keep-alive and request timeouts run on the real socket. */
  setTimeout(ms: number, callback?: () => void): this {
    this.#lane.arm(ms);
    if (callback) this.once('timeout', callback);
    return this;
  }

  setNoDelay(noDelay?: boolean): this {
    this.#lane.socket.setNoDelay(noDelay);
    return this;
  }

  setKeepAlive(enable?: boolean, delay?: number): this {
    this.#lane.socket.setKeepAlive(enable, delay);
    return this;
  }

  override _read(): void {
    // node:http wants more: only a connection handed over for good reads on for it. While the
    // lane waits for an answer it keeps the socket paused, so a pipelining client cannot make
    // it buffer without bound.
    if (this.#lane.passing && !this.#lane.held) this.#lane.socket.resume();
  }

  override _write(chunk: Buffer, encoding: BufferEncoding, callback: (err?: Error | null) => void): void {
    if (this.#lane.socket.write(chunk, encoding)) callback();
    else this.#lane.socket.once('drain', () => callback());
  }

  override _writev(chunks: Array<{ chunk: Buffer; encoding: BufferEncoding }>, callback: (err?: Error | null) => void): void {
    const socket = this.#lane.socket;
    socket.cork();
    let ok = true;
    for (const { chunk, encoding } of chunks) ok = socket.write(chunk, encoding);
    socket.uncork();
    if (ok) callback();
    else socket.once('drain', () => callback());
  }

  override _final(callback: (err?: Error | null) => void): void {
    this.#lane.backendEnded();
    callback();
  }

  override _destroy(err: Error | null, callback: (err?: Error | null) => void): void {
    this.#lane.socket.destroy();
    callback(err);
  }
}

/** One accepted connection read by the lane. */
export class LaneConnection {
  readonly socket: Socket;
  readonly #opts: FastLaneOptions;
  /** Received and not yet taken (latin1: one char per byte). */
  #buf = '';
  /** `fast`: the lane reads requests; `waiting`: node:http answers a forwarded one; `pass`: node:http has it all. */
  #state: 'fast' | 'waiting' | 'pass' = 'fast';
  #backend: Backend | null = null;
  /** The client has ended its side: no more requests will come. */
  #ended = false;
  /** `#finishInput` ran: our side is closing. */
  #finished = false;
  /** A `drain` listener will call `#readOn`. */
  #drainWait = false;
  #tail: string;
  /** The socket's idle timeout now (ms, 0: none); a socket re-arms it on every read and write. */
  #timeoutMs = -1;

  constructor(socket: Socket, opts: FastLaneOptions) {
    this.socket = socket;
    this.#opts = opts;
    this.#tail = keepAliveTail(opts.http);
    socket.on('data', this.#onData);
    socket.on('end', this.#onEnd);
    socket.on('timeout', this.#onTimeout);
    socket.on('error', () => this.#backend?.destroy());
    socket.on('close', () => this.#backend?.destroy());
    // Before a first request node:http allows `headersTimeout`; the lane closes an idle
    // connection after the same time.
    this.arm(opts.http.headersTimeout);
  }

  /** Set the socket's idle timeout to `ms` unless it is that already. */
  arm(ms: number): void {
    if (ms === this.#timeoutMs) return;
    this.#timeoutMs = ms;
    this.socket.setTimeout(ms);
  }

  /** True when nothing is being read, answered or sent: the connection may be closed now. */
  get idle(): boolean {
    return this.#state === 'fast' && this.#buf.length === 0 && this.socket.writableLength === 0;
  }

  /** Everything from here on goes to node:http. */
  get passing(): boolean {
    return this.#state === 'pass';
  }

  /** Held by the server: too many pipelined requests wait for an answer (server.ts). */
  #held = false;

  get held(): boolean {
    return this.#held;
  }

  /**
   * Read nothing more until `release`, whatever node:http asks for: node:http resumes its side
   * each time it has sent an answer, and would parse on what the client keeps sending.
   */
  hold(): void {
    this.#held = true;
    this.socket.pause();
  }

  release(): void {
    this.#held = false;
    // Paused for node:http's sake (a full Backend) it is paused again at the next push.
    if (this.#state === 'pass') this.socket.resume();
  }

  /** The node:http side of this connection, when it has one. */
  get backend(): Backend | null {
    return this.#backend;
  }

  /** node:http has finished answering the request forwarded to it: read on. */
  answerDone(): void {
    // After `Connection: close` node:http ends its side; backendEnded closes the connection.
    if (this.#state !== 'waiting' || this.#backend?.writableEnded === true) return;
    this.#readOn();
  }

  /** node:http ended its side (`Connection: close`, a rejected request): close after the answer. */
  backendEnded(): void {
    this.#state = 'pass';
    this.#buf = '';
    this.socket.end();
  }

  readonly #onData = (chunk: Buffer): void => {
    if (this.#state === 'pass') {
      if (this.#backend?.push(chunk) === false) this.socket.pause();
      return;
    }
    this.#buf += chunk.toString('latin1');
    if (this.#state === 'waiting') {
      // Pipelined requests wait for the answer in progress; do not buffer without bound.
      if (this.#buf.length > MAX_HEAD) this.socket.pause();
      return;
    }
    this.#take();
  };

  /** Answer or forward the complete requests at the head of the buffer, in order. */
  #take(): void {
    while (this.#state === 'fast' && this.#buf.length > 0) {
      if (this.socket.writableLength >= HIGH_WATER) {
        this.socket.pause();
        this.#whenDrained();
        return;
      }
      const head = classifyHead(this.#buf);
      if (head.kind === 'pass') {
        this.#passAll();
        return;
      }
      const request = this.#buf.slice(0, head.end);
      this.#buf = this.#buf.slice(head.end);
      const answer = head.kind === 'fast' && this.#opts.open() ? this.#opts.lookup(head.url, head.scriptName) : undefined;
      if (answer === undefined) {
        this.#forward(request);
        return;
      }
      if ('settle' in answer) {
        // The tile is due for its stat or must be read from its open file: wait for that, then
        // answer here or let node:http load it.
        this.#state = 'waiting';
        this.arm(0);
        answer.settle((fresh) => {
          if (this.socket.destroyed) return;
          // A drain that began during the stat wants the answer from node:http (Connection: close).
          if (fresh === undefined || !this.#opts.open()) {
            this.#forward(request);
            return;
          }
          this.#write(fresh);
          this.#readOn();
        });
        return;
      }
      this.#write(answer);
    }
    if (this.#state === 'fast') this.arm(this.#keepAliveMs());
  }

  /**
   * How long an idle keep-alive connection stays open: as node:http, a second past what the
   * Keep-Alive header announces, so a client reusing it at the last moment is not cut off.
   */
  #keepAliveMs(): number {
    const ms = this.#opts.http.keepAliveTimeout;
    return ms > 0 ? ms + KEEP_ALIVE_GRACE_MS : 0;
  }

  /** Back to reading after a wait (an answer from node:http, a stat, a full socket buffer). */
  #readOn(): void {
    if (this.#state === 'pass' || this.socket.destroyed) return;
    this.#state = 'fast';
    this.#take();
    if (this.#state !== 'fast') return;
    // Everything asked for is answered: end() still sends what is queued.
    if (this.#ended && this.#buf.length === 0) this.#finishInput();
    // The last answer filled the socket (a big tile, a slow reader): read on once it drained, or
    // a paused socket would never be resumed.
    else if (this.socket.writableLength >= HIGH_WATER) this.#whenDrained();
    else if (this.#ended) this.#finishInput();
    else if (this.socket.isPaused()) this.socket.resume();
  }

  /** `#readOn` once the socket's queue drained (once, however often asked). */
  #whenDrained(): void {
    if (this.#drainWait) return;
    this.#drainWait = true;
    this.socket.once('drain', () => {
      this.#drainWait = false;
      this.#readOn();
    });
  }

  /** The bytes node:http writes for this answer on a keep-alive connection. */
  #write(answer: FastAnswer): void {
    this.#opts.answered();
    answer.served?.();
    const socket = this.socket;
    const lent = answer.lent;
    let body = answer.body;
    // A socket that holds bytes already queues this answer: it gets a copy of its own size, and the
    // lent buffer goes back at once. Else a client that does not read would pin a lent buffer (64
    // KiB or more) per queued answer, up to HIGH_WATER of answers: one per connection at most.
    const queued = lent !== undefined && socket.writableLength > 0;
    if (queued) body = Buffer.from(body);
    socket.cork();
    // node:http writes header strings as latin1, so does the lane.
    socket.write(headOf(answer.headers), 'latin1');
    socket.write(dateAndTail(this.#tail));
    socket.write(body);
    socket.uncork();
    // A lent body is lent again only if the socket holds none of it.
    lent?.give(answer.body, queued || socket.writableLength === 0);
  }

  /** Hand one clean request head to node:http and wait for its whole answer (`answerDone`). */
  #forward(request: string): void {
    this.#state = 'waiting';
    this.arm(0);
    this.#ensureBackend().push(Buffer.from(request, 'latin1'));
  }

  /** Give node:http everything from here on. */
  #passAll(): void {
    this.#state = 'pass';
    this.arm(0);
    const rest = this.#buf;
    this.#buf = '';
    const backend = this.#ensureBackend();
    if (rest.length > 0 && !backend.push(Buffer.from(rest, 'latin1'))) this.socket.pause();
  }

  #ensureBackend(): Backend {
    if (this.#backend === null) {
      this.#backend = new Backend(this);
      this.#opts.http.emit('connection', this.#backend);
    }
    return this.#backend;
  }

  readonly #onEnd = (): void => {
    // The client is done sending (a half-close right after the request, or closing). An answer in
    // progress still goes out: `#readOn` finishes after it.
    this.#ended = true;
    if (this.#state === 'pass') this.#backend?.push(null);
    else if (this.#state === 'fast') this.#finishInput();
  };

  /** After the client's end, with every complete request answered: close our side too (once). */
  #finishInput(): void {
    if (this.#finished) return;
    this.#finished = true;
    if (this.#buf.length > 0) {
      // Requests the lane has not taken (an incomplete one: a 400 or nothing): node:http
      // answers what it can, then ends its side.
      this.#passAll();
      this.#backend?.push(null);
    } else if (this.#backend !== null) {
      // node:http ends its side once its part is done (Backend._final closes the socket).
      this.#backend.push(null);
    } else {
      this.socket.end();
    }
  }

  readonly #onTimeout = (): void => {
    if (this.#state === 'fast') {
      this.socket.destroy();
      return;
    }
    // node:http set this timeout through the backend: its handler decides.
    this.#backend?.emit('timeout');
  };
}
