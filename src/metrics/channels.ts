/**
 * The names and message shapes of the diagnostics channels the metrics listen to. Publishers own
 * their channels (cache/tile-manager.ts, cache/lock.ts, source/http-client.ts, app/router.ts,
 * image/pool.ts);
 * this file only writes down what each one carries, so a subscriber does not import the
 * publishers' heavy modules (the master loads this folder and must stay light).
 */

/** Channel names, as the publishers create them with `diagnostics_channel.channel(name)`. */
export const CHANNELS = {
  /** A tile was served from storage. `{ cache }` */
  cacheHit: 'mapproxy:cache:hit',
  /** A tile was not in storage (or stale) and will be created. `{ cache }` */
  cacheMiss: 'mapproxy:cache:miss',
  /** A meta tile (or single tile) was created. `{ cache, tiles }` */
  cacheCreated: 'mapproxy:cache:created',
  /** A meta tile lock was acquired after `ms` of waiting. `{ cache, ms }` */
  lockWait: 'mapproxy:cache:lock-wait',
  /** A meta tile lock was given up after its timeout. `{ lockFile, timeoutMs, cache? }` */
  lockTimeout: 'mapproxy:cache:lock-timeout',
  /** One upstream HTTP request ended. See `UpstreamRequestMessage`. */
  upstreamRequest: 'mapproxy:source:request',
  /** One HTTP request was answered by the app. See `HttpRequestMessage`. */
  httpRequest: 'mapproxy:http:request',
  /** An image operation got its slot of the image pool after `ms` of waiting (0: at once). `{ ms }` */
  imageJob: 'mapproxy:image:job',
} as const;

/** `mapproxy:image:job` (published by image/pool.ts). */
export interface ImageJobMessage {
  readonly ms: number;
}

/** `mapproxy:cache:hit`, `…:miss`. */
export interface CacheEventMessage {
  readonly cache: string;
  /** A hit answered again without the service (a remembered answer, src/app/hot-answers.ts). */
  readonly replay?: boolean;
}

/** `mapproxy:cache:created`. */
export interface CacheCreatedMessage {
  readonly cache: string;
  /** Tiles made by this creation (16 for a full 4×4 meta tile). */
  readonly tiles: number;
}

/** `mapproxy:cache:lock-wait`. */
export interface LockWaitMessage {
  readonly cache: string;
  readonly ms: number;
}

/** `mapproxy:source:request` (published by source/http-client.ts). */
export interface UpstreamRequestMessage {
  readonly method: string;
  /** The URL as requested, credentials removed. */
  readonly url: string;
  /** Undefined when no answer came (timeout, refused). */
  readonly status?: number;
  readonly bytes?: number;
  readonly durationMs: number;
  /** The SourceError the request failed with (an HTTP status outside 2xx or 204, a timeout, a connection failure). */
  readonly error?: { readonly reason?: string };
  /** The source's name in the config, when the publisher knows it; else the URL's host is used. */
  readonly source?: string;
}

/** `mapproxy:http:request` (published by app/router.ts). */
export interface HttpRequestMessage {
  /** The service that answered (`tms`, `wmts`, `wms`, …), or `none` for a plain 404/405/400. */
  readonly service: string;
  readonly status: number;
  readonly durationMs: number;
}
