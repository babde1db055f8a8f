export { createResponsesRoutes } from './routes.js';
export type { ResponsesRoutesDeps } from './routes.js';
export { authenticate, jsonHandler, listOptions, readJson, sendResponsesError } from './http.js';
export { parseCreateResponse, parseInput, parseMetadata } from './validate.js';
