/**
 * The OWS dispatcher behind `/service`, `/ows` (and `/wms` when WMS is on): picks the KVP service
 * by the SERVICE parameter (case-insensitive). A missing SERVICE is a WMS request only for WMS
 * 1.0.0 (`WMTVER=1.0.0`) or a GetMap; otherwise, and for a service that is not offered, the answer
 * is an OWS ExceptionReport with HTTP 400 (MapProxy ≥ 3.0; 1.15 answered 500 or fell through to WMS).
 */
import { invalidParameterError, missingParameterError, OWS_EXCEPTION_CONTENT_TYPE, owsErrorResponse } from './exceptions.js';
import type { Service, ServiceRequest, ServiceResponse } from './types.js';

/** KVP services by their SERVICE value in lower case (`wmts`, `wms`). */
export type OwsServices = Readonly<Partial<Record<string, Service>>>;

/** A `Service` dispatching on SERVICE to `services`. */
export function createOwsDispatcher(services: OwsServices): Service {
  return {
    name: 'ows',
    async handle(req: ServiceRequest): Promise<ServiceResponse | null> {
      const raw = req.query.get('service');
      let name = raw?.toLowerCase();
      if (!name) {
        // WMS 1.0.0 has no SERVICE parameter and GetMap may omit it (MapProxy 6.0).
        if (services.wms && (req.query.get('wmtver') === '1.0.0' || req.query.get('request') === 'GetMap')) {
          name = 'wms';
        } else {
          return owsErrorResponse(
            missingParameterError('The service parameter is missing', 'service'),
            OWS_EXCEPTION_CONTENT_TYPE,
          );
        }
      }
      const service = services[name];
      if (!service) {
        return owsErrorResponse(
          invalidParameterError(`The value of the service parameter is not supported: ${raw}`, 'service'),
          OWS_EXCEPTION_CONTENT_TYPE,
        );
      }
      return service.handle(req);
    },
  };
}
