/**
 * The package's public API: the embeddable app, configuration loading, and the error classes.
 */
export { createApp, type App, type CreateAppOptions } from './app/create-app.js';
export { createMultiApp, type MultiApp, type MultiAppOptions } from './app/multiapp.js';
export { loadConfigFile, validateConfig, checkConfigFile } from './config/index.js';
export * from './errors.js';
