import { merged } from '../core/objects.js';
import { droppedControls } from '../providers/controls.js';
import type { CatalogModel, Deployment } from '../router/catalog.js';
import { microsToUsd, type NetCostFigure, netCostHeader } from '../router/net-cost.js';
import type { RouteMeta } from './types.js';

/** The route a served request took, for the answer's headers and the surfaces. */
export function metaOf(
  model: string,
  deployment: Deployment,
  attempts: number,
  extra: {
    served?: CatalogModel;
    figures?: Map<string, NetCostFigure> | undefined;
    request?: { body: Record<string, unknown>; translated: boolean };
  } = {},
): RouteMeta {
  const type = deployment.providerConfig.type;
  const openAIFamily =
    type === 'openai' ||
    type === 'azure-openai' ||
    type === 'openai-compatible' ||
    (type === 'bedrock' && deployment.api === 'openai');
  const { served, figures, request } = extra;
  const dropped =
    request && droppedControls(type, deployment.api, request.body, request.translated);
  return {
    model,
    deployment: deployment.provider,
    upstreamModel: deployment.upstreamModel,
    partner: deployment.partner,
    attempts,
    sandbox: deployment.sandbox,
    openAIFamily,
    ...(dropped && dropped.length > 0 && { dropped }),
    ...(served && figures && figures.size > 0 && netCostMeta(deployment, served, figures)),
  };
}

/** The `x-switchyard-net-cost(s)` figures of the served model's plan. */
function netCostMeta(
  deployment: Deployment,
  model: CatalogModel,
  figures: Map<string, NetCostFigure>,
): Pick<RouteMeta, 'netCost' | 'netCosts'> {
  const chosen = figures.get(deployment.key);
  const ranked = model.deployments
    .map((candidate) => figures.get(candidate.key))
    .filter((figure): figure is NetCostFigure => figure !== undefined)
    .sort((a, b) =>
      a.net === b.net ? 0 : a.net === null ? 1 : b.net === null ? -1 : a.net < b.net ? -1 : 1,
    );
  return merged(chosen && { netCost: chosen.net === null ? 'unknown' : microsToUsd(chosen.net) }, {
    netCosts: netCostHeader(
      ranked.map((figure) => figure.deployment),
      figures,
    ),
  });
}
