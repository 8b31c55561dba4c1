/**
 * Error answers of the tile services and the OWS dispatcher: OWS 1.1 ExceptionReport (WMTS,
 * `/service?SERVICE=…`), TMS `TileMapServerError`, and plain text (`/tiles`). Each turns a
 * `MapProxyError` into a `ServiceResponse` with the right status and `cache: 'no-cache'`; any
 * other error becomes a 500 with a generic message, never a stack trace (REFERENCE.md §2.12).
 */
import { MapProxyError, RequestError } from '../errors.js';
import type { ServiceResponse } from './types.js';
import { escapeXml } from './xml.js';

/** Content type of WMTS exception reports (MapProxy sends it without a charset). */
export const WMTS_EXCEPTION_CONTENT_TYPE = 'text/xml';
/** Content type of the OWS dispatcher's own exception reports. */
export const OWS_EXCEPTION_CONTENT_TYPE = 'text/xml; charset=utf-8';
/** Content type of TMS errors and capabilities. */
export const TMS_XML_CONTENT_TYPE = 'text/xml; charset=utf-8';
/** Content type of `/tiles` errors. */
export const PLAIN_CONTENT_TYPE = 'text/plain; charset=utf-8';

/** The message users see for failures that are not `MapProxyError`s. */
export const INTERNAL_ERROR_MESSAGE = 'internal error';

/** A required KVP parameter is absent (OWS `MissingParameterValue`, 400). */
export function missingParameterError(message: string, locator: string): RequestError {
  return new RequestError(message, {
    status: 400,
    ogcCode: 'MissingParameterValue',
    locator,
    code: 'MPX_ERR_MISSING_PARAMETER',
  });
}

/** A parameter has a value the service does not offer (OWS `InvalidParameterValue`, 400). */
export function invalidParameterError(message: string, locator?: string): RequestError {
  return new RequestError(message, {
    status: 400,
    ogcCode: 'InvalidParameterValue',
    locator,
    code: 'MPX_ERR_INVALID_PARAMETER',
  });
}

/** A path inside a service that names no resource (404). */
export function notFoundError(message: string): RequestError {
  return new RequestError(message, { status: 404, code: 'MPX_ERR_NOT_FOUND' });
}

/**
 * An OWS 1.1 ExceptionReport document, laid out like MapProxy's (`version="1.0.0"`, one
 * `ows:Exception`). `text` is escaped here; `locator` names the offending parameter (OWS 1.1 §8.4).
 */
export function owsExceptionReport(code: string, text: string, locator?: string): string {
  const loc = locator === undefined ? '' : ` locator="${escapeXml(locator)}"`;
  return (
    '<?xml version="1.0"?>\n' +
    '<ows:ExceptionReport xmlns:ows="http://www.opengis.net/ows/1.1"\n' +
    '  xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"\n' +
    '  xsi:schemaLocation="http://www.opengis.net/ows/1.1 http://schemas.opengis.net/ows/1.1.0/owsExceptionReport.xsd"\n' +
    '  version="1.0.0" xml:lang="en">\n' +
    `  <ows:Exception exceptionCode="${escapeXml(code)}"${loc}>\n` +
    `    <ows:ExceptionText>${escapeXml(text)}</ows:ExceptionText>\n` +
    '  </ows:Exception>\n' +
    '</ows:ExceptionReport>\n'
  );
}

/**
 * Any error as an OWS ExceptionReport. The status is the error's own (`TileOutOfRange`,
 * `MissingParameterValue`, `InvalidParameterValue` → 400, `OperationNotSupported` → 501, source
 * failures → 500); a foreign error is a 500 `NoApplicableCode` "internal error".
 */
export function owsErrorResponse(err: unknown, contentType = WMTS_EXCEPTION_CONTENT_TYPE): ServiceResponse {
  if (err instanceof MapProxyError) {
    return {
      status: err.status,
      contentType,
      body: owsExceptionReport(err.ogcCode ?? 'NoApplicableCode', err.message, err.locator),
      cache: 'no-cache',
    };
  }
  return {
    status: 500,
    contentType,
    body: owsExceptionReport('NoApplicableCode', INTERNAL_ERROR_MESSAGE),
    cache: 'no-cache',
  };
}

/**
 * Status of a tile-service error: MapProxy's TMS and `/tiles` answer every request error with
 * 404 and internal (source, lock, decode) failures with 500.
 */
function tileServiceStatus(err: MapProxyError): number {
  return err instanceof RequestError ? 404 : 500;
}

/** A TMS `<TileMapServerError>` (text/xml, 404 for request errors, 500 otherwise). */
export function tmsErrorResponse(err: unknown): ServiceResponse {
  const known = err instanceof MapProxyError;
  const message = known ? err.message : INTERNAL_ERROR_MESSAGE;
  return {
    status: known ? tileServiceStatus(err) : 500,
    contentType: TMS_XML_CONTENT_TYPE,
    body:
      '<?xml version="1.0"?>\n<TileMapServerError>\n' +
      `    <Message>${escapeXml(message)}</Message>\n</TileMapServerError>`,
    cache: 'no-cache',
  };
}

/** A plain-text error (`/tiles`, `/kml`): the message itself, 404 or 500 like TMS. */
export function plainErrorResponse(err: unknown): ServiceResponse {
  const known = err instanceof MapProxyError;
  return {
    status: known ? tileServiceStatus(err) : 500,
    contentType: PLAIN_CONTENT_TYPE,
    body: known ? err.message : INTERNAL_ERROR_MESSAGE,
    cache: 'no-cache',
  };
}
