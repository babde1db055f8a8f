export { createOpenAIChatRoutes, tagsFrom } from './chat.js';
export { createOpenAIEmbeddingsRoutes } from './embeddings.js';
export { createOpenAIModelsRoutes } from './models.js';
export {
  parseJsonBody,
  validateChatRequest,
  validateEmbeddingsRequest,
} from './validate.js';
