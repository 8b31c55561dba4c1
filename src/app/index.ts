/**
 * Public face of the app folder: the request listener (`createHandler`), proxy-header handling,
 * query parameters and the response writer shared by every service.
 */
export { createHandler, productVersion, type HandlerOptions, type RequestHandler } from './router.js';
export { handlerFromConfig, type AppServicesConfig } from './from-config.js';
export { resolveRequest, requestHost, requestScheme, type RequestTarget } from './proxy.js';
export { parseQuery, decodeQueryComponent } from './params.js';
export { writeResponse, isNotModified, tileEtag, VARY_PROXY_HEADERS } from './respond.js';
export { formatHttpDate, parseHttpDate } from './http-date.js';
export { createApp, type App, type CreateAppOptions } from './create-app.js';
export { createReloadingApp, type ReloadingApp } from './reloader.js';
export { createMultiApp, type MultiApp, type MultiAppOptions } from './multiapp.js';
