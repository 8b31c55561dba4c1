/**
 * GeoTIFF tags for TIFF output of WMS GetMap (MapProxy writes ModelPixelScale, ModelTiepoint and a
 * GeoKeyDirectory). libvips cannot write arbitrary tags, so the encoded TIFF's first IFD is copied
 * to the end of the file with the three tags added, and the header pointed at the copy.
 */
import type { Bbox, Size, Srs } from '../grid/types.js';

/** Where a TIFF lies on the earth. */
export interface GeoReference {
  readonly bbox: Bbox;
  readonly srs: Pick<Srs, 'code' | 'isLatLong'>;
}

const DOUBLE = 12;
const SHORT = 3;

/** The EPSG number of an SRS code (`CRS:84` is 4326), or null for codes without one. */
export function epsgNumber(code: string): number | null {
  const m = /^EPSG:(\d+)$/i.exec(code);
  if (m) return Number(m[1]);
  return code.toUpperCase() === 'CRS:84' ? 4326 : null;
}

/** Add GeoTIFF tags for `georef` to an encoded single-image TIFF of `size` pixels. */
export function addGeoTiffTags(tiff: Buffer, georef: GeoReference, size: Size): Buffer {
  const le = tiff[0] === 0x49;
  const src = new DataView(tiff.buffer, tiff.byteOffset, tiff.length);
  const ifd = src.getUint32(4, le);
  const n = src.getUint16(ifd, le);
  const [minx, miny, maxx, maxy] = georef.bbox;
  const scale = [(maxx - minx) / size[0], (maxy - miny) / size[1], 0];
  const tie = [0, 0, 0, minx, maxy, 0];
  const epsg = epsgNumber(georef.srs.code);
  // GTModelType 1 projected / 2 geographic, GTRasterType 1 (area), then the CRS key. MapProxy
  // always uses ProjectedCSTypeGeoKey (3072); geographic systems get GeographicTypeGeoKey (2048)
  // here, as the GeoTIFF spec says.
  const keys = [1024, 0, 1, georef.srs.isLatLong ? 2 : 1, 1025, 0, 1, 1];
  if (epsg !== null) keys.push(georef.srs.isLatLong ? 2048 : 3072, 0, 1, epsg);
  const geoKeys = [1, 1, 0, keys.length / 4, ...keys];

  const start = tiff.length + (tiff.length % 2);
  const scaleAt = start;
  const tieAt = scaleAt + 24;
  const keysAt = tieAt + 48;
  const ifdAt = keysAt + geoKeys.length * 2 + ((geoKeys.length * 2) % 4);
  const added = [
    { tag: 33550, type: DOUBLE, count: 3, at: scaleAt },
    { tag: 33922, type: DOUBLE, count: 6, at: tieAt },
    { tag: 34735, type: SHORT, count: geoKeys.length, at: keysAt },
  ];
  const total = n + added.length;
  const out = Buffer.alloc(ifdAt + 2 + total * 12 + 4);
  tiff.copy(out, 0);
  const dv = new DataView(out.buffer, out.byteOffset, out.length);
  scale.forEach((v, i) => dv.setFloat64(scaleAt + i * 8, v, le));
  tie.forEach((v, i) => dv.setFloat64(tieAt + i * 8, v, le));
  geoKeys.forEach((v, i) => dv.setUint16(keysAt + i * 2, v, le));

  const entries: Array<{ tag: number; write: (at: number) => void }> = [];
  for (let i = 0; i < n; i++) {
    const at = ifd + 2 + i * 12;
    const tag = src.getUint16(at, le);
    if (added.some((a) => a.tag === tag)) continue;
    entries.push({ tag, write: (to) => tiff.copy(out, to, at, at + 12) });
  }
  for (const a of added) {
    entries.push({
      tag: a.tag,
      write: (to) => {
        dv.setUint16(to, a.tag, le);
        dv.setUint16(to + 2, a.type, le);
        dv.setUint32(to + 4, a.count, le);
        dv.setUint32(to + 8, a.at, le);
      },
    });
  }
  entries.sort((x, y) => x.tag - y.tag);
  dv.setUint16(ifdAt, entries.length, le);
  entries.forEach((e, i) => e.write(ifdAt + 2 + i * 12));
  dv.setUint32(ifdAt + 2 + entries.length * 12, src.getUint32(ifd + 2 + n * 12, le), le);
  dv.setUint32(4, ifdAt, le);
  return out.subarray(0, ifdAt + 2 + entries.length * 12 + 4);
}
