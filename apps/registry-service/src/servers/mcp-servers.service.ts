import {
  type CreateMcpServerCommand,
  type DeleteMcpServerCommand,
  DomainError,
  type GetMcpServerQuery,
  type ImportMcpServerCommand,
  type ListMcpServersQuery,
  type McpServerEntry,
  type McpServerFields,
  type McpServerList,
  RegistryServerChanged,
  RegistryServerCreated,
  serverIsolation,
  type UpdateMcpServerCommand,
  type Visibility,
} from '@athenic/contracts';
import { Outbox } from '@athenic/messaging';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { isDeepStrictEqual } from 'node:util';
import { type EntityManager, IsNull } from 'typeorm';
import { REGISTRY_ENV } from '../config/env';
import type { RegistryEnv } from '../config/env';
import { BUILTIN_SERVERS } from './builtin-servers';
import { findInstalledPackage, splitPackageSpec } from '@athenic/mcp-packages';
import { McpServerEntity } from './mcp-server.entity';
import { McpServersRepository } from './mcp-servers.repository';
import { fromServerJson, serverJsonPackage } from './server-json';
import { checkServerType } from './server-type-rules';

type Row = Omit<McpServerEntity, 'createdAt' | 'updatedAt'>;

/**
 * The catalog: public server types (shipped, or added with the service role key) and templates,
 * each seen only by its own account (docs/adr/0010-account-templates.md). A deleted entry is kept
 * for the connections installed from it; only lookups with `include_deleted` find it.
 */
@Injectable()
export class McpServersService {
  private readonly log = new Logger(McpServersService.name);

  constructor(
    private readonly repository: McpServersRepository,
    private readonly outbox: Outbox,
    @Inject(REGISTRY_ENV) private readonly env: RegistryEnv,
  ) {}

  async list(query: ListMcpServersQuery = {}): Promise<McpServerList> {
    return { data: (await this.repository.list(query.account_id)).map(toEntry) };
  }

  async get(query: GetMcpServerQuery): Promise<McpServerEntry> {
    return toEntry(await this.visible(query.id, query.account_id, query.include_deleted === true));
  }

  async create(command: CreateMcpServerCommand): Promise<McpServerEntry> {
    const owner = ownerOf(command);
    const row = await this.validated(command, owner, false);
    const created = await this.outbox.transaction(async (manager, emit) => {
      if (owner.accountId) await this.checkQuota(manager, owner.accountId);
      if (!(await this.repository.insert(manager, row))) {
        throw new DomainError(
          'already_exists',
          `An MCP server type with id "${command.id}" already exists; choose another id.`,
        );
      }
      const entry = toEntry(await manager.findOneByOrFail(McpServerEntity, { id: command.id }));
      await emit(RegistryServerCreated, { id: entry.id, created_at: entry.created_at });
      return entry;
    });
    this.log.log(
      `Server type ${command.id} added${owner.accountId ? ` (template of ${owner.accountId})` : ''}`,
    );
    return created;
  }

  async update(command: UpdateMcpServerCommand): Promise<McpServerEntry> {
    const existing = await this.changeable(command.id, command.account_id, 'update');
    const row = await this.validated(
      { ...command, id: existing.id },
      { visibility: existing.visibility, accountId: existing.accountId },
      false,
    );
    const updated = await this.outbox.transaction(async (manager, emit) => {
      const { id, ...fields } = row;
      await manager.update(McpServerEntity, { id, deletedAt: IsNull() }, {
        ...fields,
        updatedAt: new Date(),
      } as never);
      const entry = toEntry(await manager.findOneByOrFail(McpServerEntity, { id }));
      if (entry.deleted_at) throw this.notFound(id);
      await emit(RegistryServerChanged, { id, deleted: false, updated_at: entry.updated_at });
      return entry;
    });
    this.log.log(`Server type ${command.id} updated`);
    return updated;
  }

  /** Soft delete: the row stays for the installs that use it, its id stays taken. */
  async delete(command: DeleteMcpServerCommand): Promise<McpServerEntry> {
    const existing = await this.changeable(command.id, command.account_id, 'delete');
    const deleted = await this.outbox.transaction(async (manager, emit) => {
      const now = new Date();
      await manager.update(
        McpServerEntity,
        { id: existing.id, deletedAt: IsNull() },
        { deletedAt: now, updatedAt: now },
      );
      const entry = toEntry(await manager.findOneByOrFail(McpServerEntity, { id: existing.id }));
      await emit(RegistryServerChanged, {
        id: entry.id,
        deleted: true,
        updated_at: entry.updated_at,
      });
      return entry;
    });
    this.log.log(`Server type ${command.id} deleted (kept for its installs)`);
    return deleted;
  }

  /**
   * The template or type a `server.json` document describes (server-json.ts), then as create: its
   * npm package as installed here, or, for a document with remotes and no npm package, its remote
   * (nothing installed to look up).
   */
  async import(command: ImportMcpServerCommand): Promise<McpServerEntry> {
    const pkg = serverJsonPackage(command.document);
    const installed = pkg
      ? await findInstalledPackage(this.env.MCP_PACKAGES_DIR, pkg.name)
      : undefined;
    const fields = fromServerJson(command.document, installed, command.id);
    return this.create({
      ...fields,
      visibility: command.visibility,
      account_id: command.account_id,
    });
  }

  /** Brings the shipped types up to date; run at every start, a no-op when nothing changed. */
  async seedBuiltins(): Promise<void> {
    for (const type of BUILTIN_SERVERS) {
      const row = await this.validated(type, { visibility: 'public', accountId: null }, true);
      const existing = await this.repository.findById(type.id);
      if (existing && !existing.builtin) {
        this.log.warn(
          `Built-in server type ${type.id} is not added: an entry that is not shipped has its id`,
        );
        continue;
      }
      if (existing && isDeepStrictEqual(comparable(existing), comparable(row))) continue;
      await this.repository.upsertBuiltin(row);
      this.log.log(`Built-in server type ${type.id} ${existing ? 'updated' : 'added'}`);
    }
  }

  /** A row the caller may see: none for an unknown id, a deleted one, another account's. */
  private async visible(
    id: string,
    accountId: string | undefined,
    includeDeleted: boolean,
  ): Promise<McpServerEntity> {
    const row = await this.repository.findById(id);
    if (
      !row ||
      (row.deletedAt && !includeDeleted) ||
      (accountId !== undefined && row.visibility === 'account' && row.accountId !== accountId)
    )
      throw this.notFound(id);
    return row;
  }

  /** A row the caller may change: its own template (account), anything but a shipped type. */
  private async changeable(
    id: string,
    accountId: string | undefined,
    action: 'update' | 'delete',
  ): Promise<McpServerEntity> {
    const row = await this.visible(id, accountId, false);
    if (accountId !== undefined && row.accountId !== accountId) throw this.notFound(id);
    if (row.builtin)
      throw new DomainError(
        'forbidden',
        `"${id}" is shipped with the platform and cannot be ${action}d; add a template of your own instead.`,
      );
    return row;
  }

  private notFound(id: string): DomainError {
    return new DomainError(
      'not_found',
      `No MCP server type "${id}" exists; list them with GET /functions/v1/mcp-servers.`,
    );
  }

  /** Refuses a template beyond MAX_TEMPLATES_PER_ACCOUNT (serialised per account). */
  private async checkQuota(manager: EntityManager, accountId: string): Promise<void> {
    await manager.query(`SELECT pg_advisory_xact_lock(hashtext('registry.templates:' || $1))`, [
      accountId,
    ]);
    const count = await this.repository.countTemplates(manager, accountId);
    if (count >= this.env.MAX_TEMPLATES_PER_ACCOUNT)
      throw new DomainError(
        'quota_exceeded',
        `Account ${accountId} has ${count} templates, the most it may have (MAX_TEMPLATES_PER_ACCOUNT); delete one first.`,
      );
  }

  private async validated(
    command: McpServerFields & { id: string },
    owner: { visibility: Visibility; accountId: string | null },
    builtin: boolean,
  ): Promise<Row> {
    const pkg = command.package ? splitPackageSpec(command.package) : undefined;
    const installed = pkg
      ? await findInstalledPackage(this.env.MCP_PACKAGES_DIR, pkg.name)
      : undefined;
    const problems = checkServerType(
      command,
      installed && installed.version === pkg?.version ? installed : undefined,
      owner.visibility === 'account',
    );
    if (installed && pkg && installed.version !== pkg.version) {
      problems.unshift(
        `package ${pkg.name} is installed at version ${installed.version}, not ${pkg.version}`,
      );
    }
    if (problems.length > 0) {
      if (builtin)
        this.log.warn(
          `Built-in server type ${command.id} is unusable here: ${problems.join('; ')}`,
        );
      else
        throw new DomainError(
          'validation_failed',
          `Invalid server type: ${problems[0]}.`,
          problems,
        );
    }
    return {
      id: command.id,
      name: command.name,
      description: command.description,
      category: command.category,
      // checkServerType refused every transport but stdio.
      transport: command.transport as McpServerEntity['transport'],
      packageName: pkg?.name ?? null,
      packageVersion: pkg?.version ?? null,
      launch: command.launch
        ? {
            command: command.launch.command,
            args: [...command.launch.args],
            env: { ...command.launch.env },
          }
        : null,
      remote: command.remote
        ? { url: command.remote.url, headers: { ...command.remote.headers } }
        : null,
      credentialSchema: command.credential_schema,
      configSchema: command.config_schema,
      egress: command.egress,
      builtin,
      visibility: owner.visibility,
      accountId: owner.accountId,
      deletedAt: null,
    };
  }
}

/** Who owns a new entry: a template of `account_id`, or a public type. */
function ownerOf(command: CreateMcpServerCommand): {
  visibility: Visibility;
  accountId: string | null;
} {
  const visibility = command.visibility ?? (command.account_id ? 'account' : 'public');
  if (visibility === 'account' && !command.account_id)
    throw new DomainError(
      'validation_failed',
      'Invalid server type: account_id is required for a template (visibility "account").',
    );
  if (visibility === 'public' && command.account_id)
    throw new DomainError(
      'validation_failed',
      'Invalid server type: a public type has no account_id; use visibility "account" for a template.',
    );
  return { visibility, accountId: command.account_id ?? null };
}

function comparable(row: Row): unknown {
  const {
    id,
    name,
    description,
    category,
    transport,
    packageName,
    packageVersion,
    launch,
    remote,
    credentialSchema,
    configSchema,
    egress,
    builtin,
  } = row;
  return JSON.parse(
    JSON.stringify({
      id,
      name,
      description,
      category,
      transport,
      packageName,
      packageVersion,
      launch,
      remote,
      credentialSchema,
      configSchema,
      egress,
      builtin,
    }),
  );
}

export function toEntry(row: McpServerEntity): McpServerEntry {
  return {
    id: row.id,
    name: row.name,
    description: row.description,
    category: row.category,
    transport: row.transport,
    package: row.packageName,
    version: row.packageVersion,
    launch: row.launch,
    remote: row.remote,
    credential_schema: row.credentialSchema,
    config_schema: row.configSchema,
    egress: row.egress,
    builtin: row.builtin,
    visibility: row.visibility,
    account_id: row.accountId,
    isolation: serverIsolation(row.transport),
    deleted_at: row.deletedAt?.toISOString() ?? null,
    created_at: row.createdAt.toISOString(),
    updated_at: row.updatedAt.toISOString(),
  };
}
