export { createBedrockConverseRoutes } from './routes.js';
