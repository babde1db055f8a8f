/**
 * Helpers for the OpenTelemetry GenAI semantic conventions.
 * https://opentelemetry.io/docs/specs/semconv/gen-ai/
 */

/** `gen_ai.provider.name` for a Switchyard provider type (well-known values where they exist). */
export function genAiProviderName(type: string | undefined): string {
  switch (type) {
    case 'openai':
      return 'openai';
    case 'azure-openai':
      return 'azure.ai.openai';
    case 'bedrock':
      return 'aws.bedrock';
    case 'anthropic':
      return 'anthropic';
    case 'gemini':
      return 'gcp.gemini';
    case 'vertex':
      return 'gcp.vertex_ai';
    case undefined:
      return '';
    default:
      return type;
  }
}

/** `gen_ai.operation.name` for a gateway operation. */
export function genAiOperation(operation: 'chat' | 'embeddings'): string {
  return operation;
}
