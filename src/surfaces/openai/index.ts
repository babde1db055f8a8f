export { createOpenAIChatRoutes, tagsFrom } from './chat.js';
export { createOpenAIEmbeddingsRoutes } from './embeddings.js';
export { createOpenAIModelsRoutes } from './models.js';
export {
  isObject,
  parseJsonBody,
  validateChatRequest,
  validateEmbeddingsRequest,
} from './validate.js';
