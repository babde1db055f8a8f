export { createConversationsRoutes } from './routes.js';
export type { ConversationsRoutesDeps } from './routes.js';
