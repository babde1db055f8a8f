export { createAdminRoutes } from './routes.js';
export type { AdminRoutesDeps } from './routes.js';
