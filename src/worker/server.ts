/**
 * A worker's HTTP server and how it drains: it tracks in-flight requests and open connections so
 * it can stop accepting, let every request in flight finish, close keep-alive connections without
 * racing a client that is about to reuse them, and report when nothing is left.
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import net, { type AddressInfo, type Socket } from 'node:net';
import { once } from 'node:events';
import { answerClientErrors, answerHalfClosed } from '../app/listen.js';
import type { RequestHandler } from '../app/router.js';
import { Backend, LaneConnection } from './fast-lane.js';
import type { DrainMode } from './protocol.js';

/** A request listener (the app); with `fastAnswer`, hot tiles are answered in the fast lane. */
export type Handler = RequestHandler;

/** Options of `DrainingServer`. */
export interface DrainingServerOptions {
  /** Call `onMaxRequests` once after this many requests; 0 = never. */
  readonly maxRequests?: number;
  readonly onMaxRequests?: (served: number) => void;
  /** Node's keep-alive timeout (ms) of idle connections; Node's default, 5 s, when unset. */
  readonly keepAliveTimeoutMs?: number;
  /**
   * Read requests in the fast lane (fast-lane.ts) when the handler offers `fastAnswer`; default
   * true. False: node:http reads every connection itself.
   */
  readonly fastLane?: boolean;
  /** Options of the node:http server (its timeouts, for instance), as `http.createServer` takes them. */
  readonly http?: http.ServerOptions;
  /**
   * Connections open at once; one more is closed as soon as it arrives (`onDrop` is told). Not
   * net.Server's `maxConnections`: under node:cluster that makes the worker refuse the handle, and
   * the master hands it back and forth until a connection ends, holding the client meanwhile.
   */
  readonly maxConnections?: number;
  readonly onDrop?: () => void;
}

/** The outcome of a drain. */
export interface DrainResult {
  /** Connections still open at the graceful timeout, closed by force (their requests fail). */
  readonly forced: number;
}

const SHUTDOWN_BODY = 'Service Unavailable: the server is shutting down\n';

/** How long a stop drain leaves a connection idle before closing it (see `#check`). */
const STOP_IDLE_GRACE_MS = 1000;

/**
 * Pipelined requests of one connection the app works on at once; the next ones wait until one of
 * these is answered. node:http parses everything a read brought (64 KiB: hundreds of pipelined
 * requests) and asks for an answer to each at once, buffering every answer until the client reads:
 * a client that pipelines thousands of tile requests and reads nothing made a worker hold about
 * 90 MiB per connection. Waiting requests cost their parsed head only.
 */
export const PIPELINE_DEPTH = 4;

/**
 * Waiting requests at which the connection stops being read until they are all answered (for a
 * while at a time, see `#hold`). What node:http has read already is parsed all the same (one
 * read: at most 64 KiB), so a client that keeps sending without reading holds a few MiB of
 * parsed heads, not all it sent.
 */
export const PIPELINE_PAUSE_AT = 64;

/**
 * Waiting requests at which the connection is closed: a client this far ahead of the answers it
 * reads is not using HTTP/1.1 pipelining as any client does. The holds above only slow it (one
 * more read per half of node:http's headersTimeout), so without a cap a connection kept open for
 * long would still grow by a few MiB a minute. 4096 parsed heads are about 12 MiB.
 */
export const PIPELINE_MAX_WAITING = 4096;

/** One connection node:http reads (a socket, or the lane's Backend for it). */
interface Pipeline {
  /** Requests whose answer the app is making or node:http still holds. */
  readonly started: Set<ServerResponse>;
  /** Requests waiting for a place among those. */
  readonly waiting: Array<{ readonly req: IncomingMessage; readonly res: ServerResponse }>;
  /** Reading stopped (PIPELINE_PAUSE_AT) until nothing waits, or `holdTimer` ends it. */
  held: boolean;
  holdTimer: NodeJS.Timeout | null;
}

/** An HTTP server that knows how to drain (see `drain`). */
export class DrainingServer {
  /** The listening server: the fast lane's net.Server, or `http` itself without a lane. */
  readonly server: net.Server;
  /** The node:http server that answers every request the fast lane does not. */
  readonly http: http.Server;
  readonly #handler: Handler;
  readonly #opts: DrainingServerOptions;
  readonly #inFlight = new Set<ServerResponse>();
  /** Accepted connections, with their lane when there is one. */
  readonly #sockets = new Map<Socket, LaneConnection | null>();
  #served = 0;
  #mode: DrainMode | null = null;
  #drained: (() => void) | null = null;
  #done: Promise<DrainResult> | null = null;
  #idleTimer: NodeJS.Timeout | null = null;
  readonly #pipelines = new WeakMap<object, Pipeline>();

  constructor(handler: Handler, opts: DrainingServerOptions = {}) {
    this.#handler = handler;
    this.#opts = opts;
    this.http = http.createServer(opts.http ?? {}, (req, res) => this.#onRequest(req, res));
    answerHalfClosed(this.http);
    answerClientErrors(this.http);
    if (opts.keepAliveTimeoutMs !== undefined) this.http.keepAliveTimeout = opts.keepAliveTimeoutMs;
    const lookup = opts.fastLane === false ? undefined : handler.fastAnswer;
    // node:http's own default for accepted connections; half-open, so an answer can still go out
    // after the client has closed its side (the lane ends the socket then, see LaneConnection).
    this.server = lookup === undefined ? this.http : net.createServer({ noDelay: true, allowHalfOpen: true });
    const laneOptions = lookup && {
      http: this.http,
      lookup,
      open: () => this.#mode === null,
      answered: () => this.#counted(),
    };
    const maxConnections = opts.maxConnections ?? Number.POSITIVE_INFINITY;
    this.server.on('connection', (socket: Socket) => {
      if (this.#sockets.size >= maxConnections) {
        socket.destroy();
        opts.onDrop?.();
        return;
      }
      this.#sockets.set(socket, laneOptions ? new LaneConnection(socket, laneOptions) : null);
      socket.once('close', () => {
        this.#sockets.delete(socket);
        this.#check();
      });
    });
  }

  /** Requests served so far (including late ones answered during a drain). */
  get served(): number {
    return this.#served;
  }

  /** Requests being answered now. */
  get inFlight(): number {
    return this.#inFlight.size;
  }

  /** The drain under way, if any. */
  get draining(): DrainMode | null {
    return this.#mode;
  }

  /** Listen (in a cluster worker: on the master's shared handle); rejects with the listen error. */
  async listen(port: number, host: string): Promise<AddressInfo> {
    this.server.listen(port, host);
    await once(this.server, 'listening');
    // node:http starts tracking connections (headersTimeout, requestTimeout, closing idle
    // connections) when it emits 'listening'; behind the lane the net.Server listens instead.
    if (this.server !== this.http) this.http.emit('listening');
    return this.server.address() as AddressInfo;
  }

  /** Count a request; ask for replacement at `maxRequests`. */
  #counted(): void {
    this.#served++;
    const max = this.#opts.maxRequests ?? 0;
    if (max > 0 && this.#served === max) this.#opts.onMaxRequests?.(this.#served);
  }

  #onRequest(req: IncomingMessage, res: ServerResponse): void {
    const socket = req.socket;
    const pipeline = this.#pipelineOf(socket);
    this.#inFlight.add(res);
    res.once('close', () => {
      this.#inFlight.delete(res);
      // Not on a connection that is gone (a client error destroys it before its own 'close').
      if (pipeline.started.delete(res) && !socket.destroyed) this.#startWaiting(socket, pipeline);
      this.#check();
    });
    if (socket instanceof Backend) {
      // The lane reads the connection's next request once this answer is written.
      res.once('finish', () => process.nextTick(() => socket.lane.answerDone()));
    }
    if (pipeline.started.size < PIPELINE_DEPTH) {
      this.#start(pipeline, req, res);
      return;
    }
    pipeline.waiting.push({ req, res });
    if (pipeline.waiting.length > PIPELINE_MAX_WAITING) socket.destroy();
    else if (pipeline.waiting.length >= PIPELINE_PAUSE_AT && !pipeline.held) this.#hold(socket, pipeline);
  }

  /**
   * Stop reading `socket` while its waiting requests are answered; for half of node:http's
   * shortest request timeout at most. A pipelining client's last head is often split across
   * reads: node:http times the part it has parsed, and cut the connection (answers unsent) when
   * the rest stayed unread past headersTimeout (60 s) behind a long queue. A client that never
   * reads gets one more read (64 KiB) per period at most.
   */
  #hold(socket: Socket, pipeline: Pipeline): void {
    pipeline.held = true;
    // Behind the lane, the lane holds the real socket. Without it, a pause of the socket is the
    // best there is: node:http resumes it after each answer it sends.
    if (socket instanceof Backend) socket.lane.hold();
    else socket.pause();
    const limits = [this.http.headersTimeout, this.http.requestTimeout].filter((ms) => ms > 0);
    if (limits.length === 0) return;
    pipeline.holdTimer = setTimeout(() => {
      pipeline.holdTimer = null;
      this.#release(socket, pipeline);
    }, Math.min(...limits) / 2);
    pipeline.holdTimer.unref();
  }

  #release(socket: Socket, pipeline: Pipeline): void {
    if (!pipeline.held) return;
    pipeline.held = false;
    if (pipeline.holdTimer) clearTimeout(pipeline.holdTimer);
    pipeline.holdTimer = null;
    if (socket.destroyed) return;
    // Whoever else paused it (node:http for its own backlog, the lane for a full Backend) pauses
    // it again at the next data if it still must; the next request past the mark holds it again.
    if (socket instanceof Backend) socket.lane.release();
    else socket.resume();
  }

  /** The pipeline of the connection `socket`, made at its first request. */
  #pipelineOf(socket: object): Pipeline {
    const pipeline = this.#pipelines.get(socket);
    if (pipeline !== undefined) return pipeline;
    const made: Pipeline = { started: new Set(), waiting: [], held: false, holdTimer: null };
    this.#pipelines.set(socket, made);
    (socket as NodeJS.EventEmitter).once('close', () => {
      // node:http emits no 'close' on the answers of pipelined requests behind the one at the
      // head of the line when the connection goes: without this they stayed in flight for good
      // (a drain waited for them until its timeout), with their bodies.
      for (const res of made.started) this.#inFlight.delete(res);
      for (const { res } of made.waiting) this.#inFlight.delete(res);
      made.started.clear();
      made.waiting.length = 0;
      if (made.holdTimer) clearTimeout(made.holdTimer);
      made.holdTimer = null;
      this.#check();
    });
    return made;
  }

  /** Start the requests waiting in `pipeline` (of `socket`) while there is room. */
  #startWaiting(socket: Socket, pipeline: Pipeline): void {
    while (pipeline.started.size < PIPELINE_DEPTH && pipeline.waiting.length > 0) {
      const { req, res } = pipeline.waiting.shift()!;
      this.#start(pipeline, req, res);
    }
    if (pipeline.waiting.length === 0) this.#release(socket, pipeline);
  }

  /** Answer one request: drain rules first, then the app. */
  #start(pipeline: Pipeline, req: IncomingMessage, res: ServerResponse): void {
    pipeline.started.add(res);
    if (this.#mode !== null) {
      // The client must not reuse this connection: the next request would find it closed.
      res.setHeader('Connection', 'close');
      if (this.#mode === 'stop') {
        res.writeHead(503, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(SHUTDOWN_BODY), 'Retry-After': '1' });
        res.end(SHUTDOWN_BODY);
        this.#served++;
        return;
      }
    }
    this.#handler(req, res);
    this.#counted();
  }

  /**
   * Stop accepting connections and wait until every request in flight is answered and every
   * connection is closed; after `timeoutMs` close what is left by force. Calling it again during a
   * drain only changes the mode (a `reload` drain becomes a `stop` when the server shuts down).
   *
   * Keep-alive connections are never closed under a client's feet while they may carry more
   * requests: each gets `Connection: close` on its next response. In `reload` mode an idle one
   * is left to the keep-alive timeout clients plan for; in `stop` mode idle ones are closed once
   * no request is in flight, as Node's `server.close()` does.
   */
  drain(mode: DrainMode, timeoutMs: number): Promise<DrainResult> {
    const first = this.#mode === null;
    if (first || mode === 'stop') this.#mode = mode;
    if (!first) {
      this.#check();
      return this.#done ?? Promise.resolve({ forced: 0 });
    }
    this.#stopListening();
    for (const res of this.#inFlight) if (!res.headersSent) res.setHeader('Connection', 'close');
    this.#done = new Promise<DrainResult>((resolve) => {
      const timer = setTimeout(() => {
        this.#stopListening();
        const forced = this.#sockets.size;
        this.http.closeAllConnections();
        for (const s of this.#sockets.keys()) s.destroy();
        this.#untrack();
        resolve({ forced });
      }, timeoutMs);
      this.#drained = () => {
        clearTimeout(timer);
        this.#untrack();
        resolve({ forced: 0 });
      };
    });
    this.#check();
    return this.#done;
  }

  /**
   * net.Server's close stops accepting and keeps existing connections, as documented for
   * net.Server; http.Server's own close() would also drop idle keep-alive connections at once,
   * racing with clients that have just sent their next request on one.
   */
  #stopListening(): void {
    if (this.server.listening) net.Server.prototype.close.call(this.server);
  }

  /** Behind the lane: stop node:http's connection checks started by `listen` (nothing is left). */
  #untrack(): void {
    if (this.server !== this.http) this.http.close(() => undefined);
  }

  #check(): void {
    if (this.#mode === null) return;
    if (this.#inFlight.size === 0 && this.#mode === 'stop' && this.#sockets.size > 0 && this.#idleTimer === null) {
      // Node calls a keep-alive connection idle also in the instant between two requests of a
      // busy client; closing it then resets the request on its way. Every answer of a stop drain
      // says Connection: close, so busy connections end by themselves; the idle ones left after
      // a grace period are closed.
      this.#idleTimer = setTimeout(() => {
        this.#idleTimer = null;
        this.http.closeIdleConnections();
        // Lane connections node:http has never seen: closed when the lane is between requests.
        for (const [socket, lane] of this.#sockets) if (lane !== null && lane.backend === null && lane.idle) socket.destroy();
        this.#check();
      }, STOP_IDLE_GRACE_MS);
      this.#idleTimer.unref();
    }
    if (this.#inFlight.size === 0 && this.#sockets.size === 0 && this.#drained) {
      if (this.#idleTimer) clearTimeout(this.#idleTimer);
      this.#idleTimer = null;
      const drained = this.#drained;
      this.#drained = null;
      drained();
    }
  }
}
