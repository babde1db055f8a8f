/** A plain object (not an array, not null), or undefined: what the reference checks can walk. */
function record(value: unknown): Record<string, unknown> | undefined {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}

/** The items of an array, or none. */
function items(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

/**
 * Cross-field checks: references between sections. Returns [path, message] pairs.
 *
 * Written against the raw (interpolated, not yet validated) shape as well as a parsed Config, so
 * `config check` can report a reference error (`unknown provider "bedrok"`) in the same pass as
 * the schema errors: a part whose shape is wrong is skipped here (the schema reports it), and a
 * default the schema would fill (`kind: chat`, no fallbacks) is assumed.
 */
export function crossCheck(config: unknown): Array<[string, string]> {
  const problems: Array<[string, string]> = [];
  const root = record(config) ?? {};
  const partners = record(root['partners']) ?? {};
  const providers = record(root['providers']) ?? {};
  const models = record(root['models']) ?? {};
  for (const [id, value] of Object.entries(providers)) {
    const provider = record(value);
    if (!provider) continue;
    const partner = provider['partner'];
    if (typeof partner === 'string' && !Object.hasOwn(partners, partner)) {
      problems.push([`providers.${id}.partner`, `unknown partner "${partner}"`]);
    }
    if (
      provider['type'] === 'bedrock' &&
      (provider['accessKeyId'] === undefined) !== (provider['secretAccessKey'] === undefined)
    ) {
      problems.push([`providers.${id}`, 'accessKeyId and secretAccessKey go together']);
    }
  }
  const kindOf = (model: Record<string, unknown>) =>
    typeof model['kind'] === 'string' ? model['kind'] : 'chat';
  for (const [name, value] of Object.entries(models)) {
    const model = record(value);
    if (!model) continue;
    items(model['deployments']).forEach((item, index) => {
      const deployment = record(item);
      if (!deployment || typeof deployment['provider'] !== 'string') return;
      const path = `models.${name}.deployments[${index}]`;
      if (!Object.hasOwn(providers, deployment['provider'])) {
        problems.push([`${path}.provider`, `unknown provider "${deployment['provider']}"`]);
        return;
      }
      const provider = record(providers[deployment['provider']]);
      const partnerId = provider?.['partner'];
      const licence =
        typeof partnerId === 'string'
          ? record(record(partners[partnerId])?.['license'])
          : undefined;
      const region = deployment['region'] ?? provider?.['region'] ?? provider?.['location'];
      if (Array.isArray(licence?.['regions']) && typeof region !== 'string')
        problems.push([
          `${path}.region`,
          `partner "${String(partnerId)}" is licensed in some regions only: give the deployment a region`,
        ]);
      if (
        provider &&
        deployment['api'] !== undefined &&
        typeof provider['type'] === 'string' &&
        provider['type'] !== 'bedrock'
      ) {
        problems.push([
          `${path}.api`,
          `"api" applies to bedrock deployments only, not ${provider['type']}`,
        ]);
      }
    });
    items(model['fallbacks']).forEach((fallback, index) => {
      if (typeof fallback !== 'string') return;
      const path = `models.${name}.fallbacks[${index}]`;
      const target = Object.hasOwn(models, fallback) ? record(models[fallback]) : undefined;
      if (!Object.hasOwn(models, fallback)) problems.push([path, `unknown model "${fallback}"`]);
      else if (fallback === name) problems.push([path, 'a model cannot be its own fallback']);
      else if (target && kindOf(target) !== kindOf(model))
        problems.push([
          path,
          `"${fallback}" is an ${kindOf(target)} model; "${name}" is a ${kindOf(model)} model`,
        ]);
    });
  }
  items(record(root['routing'])?.['rules']).forEach((item, index) => {
    const model = record(item)?.['model'];
    if (typeof model === 'string' && !Object.hasOwn(models, model))
      problems.push([`routing.rules[${index}].model`, `unknown model "${model}"`]);
    if (model === undefined && record(item) !== undefined) {
      const overflow = record(record(item)?.['when'])?.['contextOverflow'] === true;
      if (overflow || record(item)?.['strategy'] === undefined)
        problems.push([
          `routing.rules[${index}].model`,
          overflow
            ? 'a contextOverflow rule needs `model`'
            : 'a rule needs `model`, `strategy`, or both',
        ]);
    }
  });
  const primaries = Object.entries(partners).filter(
    ([, partner]) => record(partner)?.['primary'] === true,
  );
  if (primaries.length > 1)
    problems.push([
      'partners',
      `only one partner may be primary (${primaries.map(([id]) => id).join(', ')})`,
    ]);
  return problems;
}
