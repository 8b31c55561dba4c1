/**
 * WMTS 1.0.0 capabilities (OGC 07-057r7 §7.1), laid out line for line like MapProxy 1.15: the
 * service identification and provider from the metadata, OperationsMetadata (KVP) or
 * ResourceURL / ServiceMetadataURL (RESTful), one Layer per layer name and one TileMatrixSet per
 * grid. Everything that does not depend on the request URL is rendered once at construction.
 */
import { formatScaleDenominator, pyFloatRepr, wmtsScaleDenominator, type TileGrid } from '../grid/index.js';
import type { ServiceMetadata, TileLayer } from './types.js';
import { escapeXml } from './xml.js';

/** A WMTS layer: every grid a layer name is offered in, the first pair giving title and format. */
export interface WmtsLayer {
  readonly name: string;
  readonly first: TileLayer;
  /** By grid name (the TileMatrixSet identifier). */
  readonly grids: ReadonlyMap<string, TileLayer>;
}

/** Tile matrix identifiers are zero-padded levels: `00`, `01`, … (MapProxy's level names). */
export function matrixIdentifier(level: number): string {
  return String(level).padStart(2, '0');
}

/** `<TileMatrixSet>` of a grid: the top-left origin tile per level, scale from the OGC 0.28 mm pixel. */
export function tileMatrixSetXml(grid: TileGrid): string {
  const [tw, th] = grid.tileSize;
  let out =
    '    <TileMatrixSet>\n' +
    `      <ows:Identifier>${escapeXml(grid.name)}</ows:Identifier>\n` +
    `      <ows:SupportedCRS>${escapeXml(grid.srs.code)}</ows:SupportedCRS>\n`;
  for (let level = 0; level < grid.levels; level++) {
    const [cols, rows] = grid.gridSizes[level];
    const bbox = grid.tileBbox(grid.originTile(level, 'ul'));
    const topLeft = grid.srs.isAxisOrderNE ? [bbox[3], bbox[0]] : [bbox[0], bbox[3]];
    const scale = formatScaleDenominator(wmtsScaleDenominator(grid.resolutions[level], grid.srs));
    out +=
      '      <TileMatrix>\n' +
      `        <ows:Identifier>${matrixIdentifier(level)}</ows:Identifier>\n` +
      `        <ScaleDenominator>${scale}</ScaleDenominator>\n` +
      `        <TopLeftCorner>${pyFloatRepr(topLeft[0])} ${pyFloatRepr(topLeft[1])}</TopLeftCorner>\n` +
      `        <TileWidth>${tw}</TileWidth>\n` +
      `        <TileHeight>${th}</TileHeight>\n` +
      `        <MatrixWidth>${cols}</MatrixWidth>\n` +
      `        <MatrixHeight>${rows}</MatrixHeight>\n` +
      '      </TileMatrix>\n';
  }
  return `${out}    </TileMatrixSet>\n`;
}

const HEADER =
  '<?xml version="1.0"?>\n' +
  '<Capabilities xmlns="http://www.opengis.net/wmts/1.0" xmlns:ows="http://www.opengis.net/ows/1.1" ' +
  'xmlns:xlink="http://www.w3.org/1999/xlink" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" ' +
  'xmlns:gml="http://www.opengis.net/gml" xsi:schemaLocation="http://www.opengis.net/wmts/1.0 ' +
  'http://schemas.opengis.net/wmts/1.0/wmtsGetCapabilities_response.xsd" version="1.0.0">\n';

/** ServiceIdentification and, with a contact, ServiceProvider. */
function serviceXml(md: ServiceMetadata): string {
  const e = (v: string | undefined): string => escapeXml(v ?? '');
  let out =
    '  <ows:ServiceIdentification>\n' +
    `    <ows:Title>${e(md.title)}</ows:Title>\n` +
    `    <ows:Abstract>${e(md.abstract)}</ows:Abstract>\n`;
  if (md.keywordList && md.keywordList.length > 0) {
    out += '    <ows:Keywords>\n';
    for (const list of md.keywordList) {
      const vocabulary = list.vocabulary ? ` vocabulary="${e(list.vocabulary)}"` : '';
      for (const keyword of list.keywords) out += `        <ows:Keyword${vocabulary}>${e(keyword)}</ows:Keyword>\n`;
    }
    // MapProxy's template leaves a space after this tag.
    out += '    </ows:Keywords> \n';
  }
  out +=
    '    <ows:ServiceType>OGC WMTS</ows:ServiceType>\n' +
    '    <ows:ServiceTypeVersion>1.0.0</ows:ServiceTypeVersion>\n' +
    `    <ows:Fees>${e(md.fees ?? 'none')}</ows:Fees>\n` +
    `    <ows:AccessConstraints>${e(md.accessConstraints ?? 'none')}</ows:AccessConstraints>\n` +
    '  </ows:ServiceIdentification>\n';
  const c = md.contact;
  if (c) {
    out +=
      '  <ows:ServiceProvider>\n' +
      `    <ows:ProviderName>${e(c.organization)}</ows:ProviderName>\n` +
      `    <ows:ProviderSite xlink:href="${e(md.onlineResource)}"/>\n` +
      '    <ows:ServiceContact>\n' +
      `      <ows:IndividualName>${e(c.person)}</ows:IndividualName>\n` +
      `      <ows:PositionName>${e(c.position)}</ows:PositionName>\n` +
      '      <ows:ContactInfo>\n' +
      '        <ows:Phone>\n' +
      `          <ows:Voice>${e(c.phone)}</ows:Voice>\n` +
      `          <ows:Facsimile>${e(c.fax)}</ows:Facsimile>\n` +
      '        </ows:Phone>\n' +
      '        <ows:Address>\n' +
      `          <ows:DeliveryPoint>${e(c.organization)}</ows:DeliveryPoint>\n` +
      `          <ows:City>${e(c.city)}</ows:City>\n` +
      `          <ows:PostalCode>${e(c.postcode)}</ows:PostalCode>\n` +
      `          <ows:Country>${e(c.country)}</ows:Country>\n` +
      `          <ows:ElectronicMailAddress>${e(c.email)}</ows:ElectronicMailAddress>\n` +
      '        </ows:Address>\n' +
      '      </ows:ContactInfo>\n' +
      '    </ows:ServiceContact>\n' +
      '  </ows:ServiceProvider>\n';
  }
  return out;
}

/** OperationsMetadata of the KVP binding: every operation at `{url}?`. */
function operationsXml(url: string): string {
  let out = '  <ows:OperationsMetadata>\n';
  for (const op of ['GetCapabilities', 'GetTile', 'GetFeatureInfo']) {
    out +=
      `    <ows:Operation name="${op}">\n` +
      '      <ows:DCP>\n' +
      '        <ows:HTTP>\n' +
      `          <ows:Get xlink:href="${escapeXml(url)}?">\n` +
      '            <ows:Constraint name="GetEncoding">\n' +
      '              <ows:AllowedValues>\n' +
      '                <ows:Value>KVP</ows:Value>\n' +
      '              </ows:AllowedValues>\n' +
      '            </ows:Constraint>\n' +
      '          </ows:Get>\n' +
      '        </ows:HTTP>\n' +
      '      </ows:DCP>\n' +
      '    </ows:Operation>\n';
  }
  return `${out}  </ows:OperationsMetadata>\n`;
}

/** The part of a `<Layer>` before the (RESTful) ResourceURL. */
function layerHeadXml(layer: WmtsLayer): string {
  const first = layer.first;
  const [minx, miny, maxx, maxy] = first.wgs84Bbox.map(pyFloatRepr);
  let out =
    '    <Layer>\n' +
    `      <ows:Title>${escapeXml(first.title)}</ows:Title>\n` +
    '      <ows:Abstract></ows:Abstract>\n' +
    '      <ows:WGS84BoundingBox>\n' +
    `        <ows:LowerCorner>${minx} ${miny}</ows:LowerCorner>\n` +
    `        <ows:UpperCorner>${maxx} ${maxy}</ows:UpperCorner>\n` +
    '      </ows:WGS84BoundingBox>\n' +
    `      <ows:Identifier>${escapeXml(layer.name)}</ows:Identifier>\n` +
    '      <Style>\n' +
    '        <ows:Identifier>default</ows:Identifier>\n' +
    '      </Style>\n' +
    `      <Format>image/${escapeXml(first.extension)}</Format>\n`;
  for (const gridName of layer.grids.keys()) {
    out +=
      '      <TileMatrixSetLink>\n' +
      `        <TileMatrixSet>${escapeXml(gridName)}</TileMatrixSet>\n` +
      '      </TileMatrixSetLink>\n';
  }
  return out;
}

/** Renders the KVP or RESTful capabilities document for a request URL. */
export class WmtsCapabilities {
  readonly #restTemplate: string | undefined;
  readonly #head: string;
  readonly #layerHeads: ReadonlyArray<{ head: string; layer: WmtsLayer }>;
  readonly #matrixSets: string;

  /**
   * @param restTemplate the RESTful tile template: RESTful document (ResourceURL,
   *   ServiceMetadataURL); undefined: KVP document (OperationsMetadata).
   */
  constructor(md: ServiceMetadata, layers: Iterable<WmtsLayer>, grids: Iterable<TileGrid>, restTemplate?: string) {
    this.#restTemplate = restTemplate;
    this.#head = HEADER + serviceXml(md);
    this.#layerHeads = [...layers].map((layer) => ({ head: layerHeadXml(layer), layer }));
    this.#matrixSets = [...grids].map(tileMatrixSetXml).join('');
  }

  /**
   * The document. `url` is the service URL: the KVP endpoint (`…/service`) or, RESTful, the
   * `…/wmts` prefix that ResourceURL templates and ServiceMetadataURL start with.
   */
  render(url: string): string {
    const rest = this.#restTemplate;
    let out = this.#head;
    if (rest === undefined) out += operationsXml(url);
    out += '  <Contents>\n';
    for (const { head, layer } of this.#layerHeads) {
      out += head;
      if (rest !== undefined) {
        const ext = layer.first.extension;
        const template = url + rest.replaceAll('{Format}', ext).replaceAll('{Layer}', layer.name);
        out +=
          `      <ResourceURL format="image/${escapeXml(ext)}" resourceType="tile"\n` +
          `        template="${escapeXml(template)}"/>\n`;
      }
      out += '    </Layer>\n';
    }
    out += `${this.#matrixSets}  </Contents>\n`;
    if (rest !== undefined) out += `  <ServiceMetadataURL xlink:href="${escapeXml(url)}/1.0.0/WMTSCapabilities.xml"/>\n`;
    return `${out}</Capabilities>`;
  }
}
