/**
 * Which client protocol a request arrived on. In core (not gateway/) because providers read it
 * too: unknown fields pass through only where client and upstream speak the same protocol.
 */
export type SurfaceName =
  | 'openai-chat'
  | 'openai-embeddings'
  | 'openai-responses'
  | 'anthropic-messages'
  | 'bedrock-converse';
