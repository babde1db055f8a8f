import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { ServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Secret } from 'kubernetes-models/v1/Secret';
import { Service } from 'kubernetes-models/v1/Service';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { describe, expect, it } from 'vitest';
import {
  argAfter,
  checkConfig,
  configVariables,
  ROOT,
  variablesReadBySource,
  yamlDocuments,
} from './contract.js';

/**
 * deploy/kubernetes: every manifest is validated against the Kubernetes OpenAPI schemas (as
 * compiled by kubernetes-models; no cluster), and the Deployment agrees with the config contract
 * and with the gateway's endpoints and shutdown.
 */

/** Validators by apiVersion/kind, from the Kubernetes (and Prometheus Operator) OpenAPI schemas. */
const MODELS: Record<string, new (data: never) => { validate(): void }> = {
  'apps/v1/Deployment': Deployment,
  'autoscaling/v2/HorizontalPodAutoscaler': HorizontalPodAutoscaler,
  'v1/ConfigMap': ConfigMap,
  'v1/Secret': Secret,
  'v1/Service': Service,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'monitoring.coreos.com/v1/ServiceMonitor': ServiceMonitor,
};

interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string> };
  [field: string]: any;
}

const DIR = 'deploy/kubernetes';
const files = [
  ...readdirSync(join(ROOT, DIR)).map((file) => `${DIR}/${file}`),
  ...readdirSync(join(ROOT, DIR, 'optional')).map((file) => `${DIR}/optional/${file}`),
].filter((file) => file.endsWith('.yaml') && !file.endsWith('kustomization.yaml'));
const manifests = files.flatMap((file) =>
  (yamlDocuments(file) as Manifest[]).map((manifest) => ({ file, manifest })),
);
const byKind = (kind: string) => manifests.find(({ manifest }) => manifest.kind === kind)!.manifest;

function validate(manifest: Manifest): void {
  const Model = MODELS[`${manifest.apiVersion}/${manifest.kind}`];
  if (!Model) throw new Error(`no schema for ${manifest.apiVersion} ${manifest.kind}`);
  new Model(manifest as never).validate();
}

describe('deploy/kubernetes', () => {
  it('validates every manifest against the Kubernetes schemas', () => {
    expect(manifests.map(({ manifest }) => manifest.kind).sort()).toEqual([
      'ConfigMap',
      'Deployment',
      'HorizontalPodAutoscaler',
      'PodDisruptionBudget',
      'Secret',
      'Service',
      'ServiceMonitor',
    ]);
    for (const { file, manifest } of manifests)
      expect(() => validate(manifest), `${file}: ${manifest.kind}`).not.toThrow();
    // The schemas are not vacuous: a wrong type and a missing required field are refused.
    const deployment = structuredClone(byKind('Deployment'));
    deployment['spec'].template.spec.containers[0].ports[0].containerPort = 'http';
    expect(() => validate(deployment)).toThrow(/containerPort/);
    const broken = structuredClone(byKind('Deployment'));
    delete broken['spec'].selector;
    expect(() => validate(broken)).toThrow(/selector/);
  });

  it('lists every manifest but the example Secret and the optional ServiceMonitor in kustomization.yaml', () => {
    const [kustomization] = yamlDocuments(`${DIR}/kustomization.yaml`) as [{ resources: string[] }];
    expect(kustomization.resources.map((resource) => `${DIR}/${resource}`).sort()).toEqual(
      files.filter((file) => !/secret\.example|optional\//.test(file)).sort(),
    );
  });

  const deployment = byKind('Deployment');
  const pod = deployment['spec'].template.spec;
  const container = pod.containers[0];
  const configText: string = byKind('ConfigMap')['data']['switchyard.yaml'];
  const config = checkConfig(configText);

  it('carries a config the gateway accepts, mounted where the commands read it', () => {
    const mount = container.volumeMounts.find((entry: { name: string }) => entry.name === 'config');
    const volume = pod.volumes.find((entry: { name: string }) => entry.name === 'config');
    expect(volume.configMap.name).toBe(byKind('ConfigMap').metadata.name);
    expect(argAfter(container.args, '--config')).toBe(`${mount.mountPath}/switchyard.yaml`);
    expect(container.args[0]).toBe('serve');
    // Migrations run once per pod start, before the gateway, from the same config.
    const migrate = pod.initContainers[0];
    expect(migrate.args[0]).toBe('migrate');
    expect(argAfter(migrate.args, '--config')).toBe(argAfter(container.args, '--config'));
    expect(migrate.image).toBe(container.image);
  });

  it('takes secrets from the Secret, and sets only variables the config or the code read', () => {
    const secret = byKind('Secret');
    const provided = Object.keys(secret['stringData']);
    const needed = configVariables(configText);
    const read = variablesReadBySource();
    for (const source of [container, pod.initContainers[0]])
      expect(source.envFrom).toEqual([{ secretRef: { name: secret.metadata.name } }]);
    for (const name of needed) expect(provided, `${name} is used by the config`).toContain(name);
    for (const name of provided)
      expect(needed.has(name) || read.has(name), `${name} is read by nothing`).toBe(true);
    // No secret value sits in the ConfigMap: each comes through ${NAME}.
    expect(config.auth.masterKey).toBe('placeholder-switchyard_master_key');
    expect(configText).not.toMatch(/sk-[A-Za-z0-9]{8,}/);
  });

  it('probes /healthz and /readyz on the port the config listens on', () => {
    const port = container.ports.find((entry: { name: string }) => entry.name === 'http');
    expect(port.containerPort).toBe(config.server.port);
    expect(config.server.host).toBe('0.0.0.0');
    expect(container.startupProbe.httpGet).toEqual({ path: '/healthz', port: 'http' });
    expect(container.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'http' });
    expect(container.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'http' });
    expect(byKind('Service')['spec'].ports[0].targetPort).toBe('http');
  });

  it('gives shutdown its time: preStop delay plus the drain fit in the grace period', () => {
    const command: string[] = container.lifecycle.preStop.exec.command;
    expect(command[0]).toBe('sleep');
    const preStopSeconds = Number(command[1]);
    expect(preStopSeconds).toBeGreaterThan(0);
    const server = config.server as { drainTimeoutMs: number; shutdownDelayMs?: number };
    const needed = preStopSeconds + ((server.shutdownDelayMs ?? 0) + server.drainTimeoutMs) / 1000;
    expect(pod.terminationGracePeriodSeconds).toBeGreaterThan(needed);
  });

  it('runs as a non-root user and selects its pods everywhere by the same labels', () => {
    expect(pod.securityContext.runAsNonRoot).toBe(true);
    expect(pod.securityContext.runAsUser).not.toBe(0);
    const labels = deployment['spec'].template.metadata.labels;
    expect(deployment['spec'].selector.matchLabels).toEqual(labels);
    expect(byKind('Service')['spec'].selector).toEqual(labels);
    expect(byKind('PodDisruptionBudget')['spec'].selector.matchLabels).toEqual(labels);
    const hpa = byKind('HorizontalPodAutoscaler')['spec'];
    expect(hpa.scaleTargetRef).toEqual({
      apiVersion: deployment.apiVersion,
      kind: 'Deployment',
      name: deployment.metadata.name,
    });
    expect(hpa.minReplicas).toBeGreaterThanOrEqual(2);
    const monitor = byKind('ServiceMonitor')['spec'];
    expect(monitor.selector.matchLabels).toEqual(byKind('Service').metadata.labels);
    expect(monitor.endpoints[0].path).toBe('/metrics');
    expect(monitor.endpoints[0].authorization.credentials.name).toBe(
      byKind('Secret').metadata.name,
    );
  });
});
