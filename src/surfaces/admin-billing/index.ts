export { createAdminBillingRoutes } from './routes.js';
export type { AdminBillingRoutesDeps } from './routes.js';
