import type { Page, ProjectRecord } from '../store/index.js';
import type { AdminContext } from './admin-context.js';
import type { Actor, EntityPatch, ProjectInput } from './admin-inputs.js';
import { projectJson } from './admin-json.js';
import { applied, blank, conflict, found, newId } from './admin-records.js';
import { merged } from '../core/objects.js';

/** Projects: create, list, read, change. */
export interface ProjectAdmin {
  createProject(input: ProjectInput, actor: Actor): Promise<ProjectRecord>;
  listProjects(filter?: Page & { tenantId?: string | undefined }): Promise<ProjectRecord[]>;
  getProject(id: string): Promise<ProjectRecord>;
  updateProject(id: string, patch: EntityPatch, actor: Actor): Promise<ProjectRecord>;
}

/** The project methods of the admin service. */
export function createProjectAdmin({ deps, repository, change }: AdminContext): ProjectAdmin {
  return {
    createProject: (input, actor) =>
      change(async (repo, audit) => {
        found(await repo.getTenant(input.tenantId), 'tenant', input.tenantId);
        const project: ProjectRecord = merged(blank(newId(input.id, 'prj_'), input, deps.clock()), {
          tenantId: input.tenantId,
        });
        if (await repo.getProject(project.id)) throw conflict('project', project.id);
        await repo.insertProject(project);
        await audit({
          action: 'project.create',
          targetType: 'project',
          targetId: project.id,
          before: null,
          after: projectJson(project),
        });
        return project;
      }, actor),
    listProjects: (filter) => repository.listProjects(filter),
    getProject: async (id) => found(await repository.getProject(id), 'project', id),
    updateProject: (id, patch, actor) =>
      change(async (repo, audit) => {
        const before = found(await repo.getProject(id), 'project', id);
        const after = applied(before, patch, deps.clock());
        await repo.updateProject(after);
        await audit({
          action: 'project.update',
          targetType: 'project',
          targetId: id,
          before: projectJson(before),
          after: projectJson(after),
        });
        return after;
      }, actor),
  };
}
