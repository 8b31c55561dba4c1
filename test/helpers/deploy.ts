/**
 * What the reverse-proxy tests of docs/deployment.md share (deploy-nginx.test.ts,
 * deploy-apache.test.ts): free ports for proxies that cannot report the port they picked, the
 * fixtures of test/fixtures/deploy with their documented addresses replaced, the absolute URLs of
 * a capabilities document, and the pixel check of a tile served through a proxy.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { copyFile, mkdtemp, readFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { expectedColor, pixelCenter, MERC_MAX } from './upstream.js';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const FIXTURES = path.join(ROOT, 'test', 'fixtures', 'deploy');

/** A free TCP port on 127.0.0.1 (for a proxy, which cannot report the port it picked). */
export async function freePort(): Promise<number> {
  const server = net.createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  await new Promise((r) => server.close(r));
  return port;
}

/** Whether 127.0.0.1:`port` accepts a connection now. */
export function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
  });
}

/** A fixture with its documented addresses replaced (`[from, to]` pairs, each must occur). */
export async function fixture(name: string, replace: ReadonlyArray<readonly [string, string]>): Promise<string> {
  let text = await readFile(path.join(FIXTURES, name), 'utf8');
  for (const [from, to] of replace) {
    assert.ok(text.includes(from), `${name} contains ${from}`);
    text = text.split(from).join(to);
  }
  return text;
}

/** A fixture as docs/deployment.md shows it: without its opening comment, which names its test. */
export async function documentedFixture(name: string): Promise<string> {
  return (await readFile(path.join(FIXTURES, name), 'utf8')).replace(/^(#.*\n)+/, '');
}

/** A temp dir holding copies of the deploy config fixtures. */
export async function configDir(): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'mpx-'));
  for (const f of ['base.yaml', 'host-a.yaml', 'host-b.yaml']) await copyFile(path.join(FIXTURES, f), path.join(dir, f));
  return dir;
}

/** Every absolute URL in a capabilities document except XML namespaces and schema locations. */
export function serviceUrls(xml: string): string[] {
  return [...xml.matchAll(/https?:\/\/[^\s"<>]+/g)].map((m) => m[0]).filter((u) => !/^https?:\/\/(www\.opengis\.net|schemas\.opengis\.net|www\.w3\.org)\//.test(u));
}

/** The body of a GET that must answer 200. */
export async function fetchText(url: string, headers: Record<string, string> = {}): Promise<string> {
  const res = await fetch(url, { headers });
  const body = await res.text();
  assert.equal(res.status, 200, `${url}: ${body}`);
  return body;
}

/** The width of a GLOBAL_WEBMERCATOR tile of level `z`, metres. */
/**
 * The capabilities behind a proxy at `base` (e.g. `http://127.0.0.1:<port>/mapproxy`) of the
 * deploy fixtures' one layer `proof`: every URL in the TMS root, the tile map, the WMTS RESTful
 * and KVP capabilities starts with `base` (MapProxy: the script name on the client's Host).
 */
export async function assertCapabilityUrls(base: string): Promise<void> {
  const tms = await fetchText(`${base}/tms/1.0.0/`);
  assert.deepEqual(serviceUrls(tms), [`${base}/tms/1.0.0/proof/GLOBAL_WEBMERCATOR`]);
  const tileMap = await fetchText(`${base}/tms/1.0.0/proof/GLOBAL_WEBMERCATOR`);
  assert.deepEqual(serviceUrls(tileMap), Array.from({ length: 19 }, (_, z) => `${base}/tms/1.0.0/proof/GLOBAL_WEBMERCATOR/${z}`));
  const wmts = await fetchText(`${base}/wmts/1.0.0/WMTSCapabilities.xml`);
  assert.deepEqual(serviceUrls(wmts), [
    `${base}/wmts/proof/{TileMatrixSet}/{TileMatrix}/{TileCol}/{TileRow}.png`,
    `${base}/wmts/1.0.0/WMTSCapabilities.xml`,
  ]);
  const kvp = await fetchText(`${base}/service?REQUEST=GetCapabilities&SERVICE=WMTS`);
  const kvpUrls = serviceUrls(kvp);
  assert.ok(kvpUrls.length >= 3, kvp);
  assert.deepEqual([...new Set(kvpUrls)], [`${base}/service?`]);
}

export const TILE = (z: number): number => (2 * MERC_MAX) / 2 ** z;

/** The tile (x, y from the north, z) shows the upstream's colours at its own place. */
export async function assertTilePixels(body: Buffer, x: number, y: number, z: number): Promise<void> {
  const { data, info } = await sharp(body).raw().toBuffer({ resolveWithObject: true });
  assert.deepEqual([info.width, info.height], [256, 256]);
  const bbox = [-MERC_MAX + x * TILE(z), MERC_MAX - (y + 1) * TILE(z), -MERC_MAX + (x + 1) * TILE(z), MERC_MAX - y * TILE(z)] as const;
  for (const [px, py] of [[10, 10], [128, 128], [245, 245]]) {
    const o = (py * info.width + px) * info.channels;
    assert.deepEqual([data[o], data[o + 1], data[o + 2]], expectedColor(...pixelCenter(bbox, [256, 256], px, py)), `tile ${z}/${x}/${y} pixel ${px},${py}`);
  }
}
