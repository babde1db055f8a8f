export type { ErrorClass, ErrorCode } from './codes.js';
export { openAIErrorType } from './codes.js';
export {
  clientClosed,
  GatewayError,
  UpstreamError,
  invalidRequest,
  storeUnavailable,
  toGatewayError,
} from './gateway-error.js';
export type { GatewayErrorOptions } from './gateway-error.js';
export { errorHeaders, openAIStatus, renderOpenAIError } from './render.js';
export {
  isStoreUnavailable,
  STORE_RETRY_AFTER_MS,
  StoreTimeoutError,
  withStoreTimeout,
} from './store.js';
