import {
  type CreateMcpServerCommand,
  DomainError,
  type McpServerEntry,
  type McpServerList,
  RegistryServerCreated,
} from '@athenic/contracts';
import { Outbox } from '@athenic/messaging';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { isDeepStrictEqual } from 'node:util';
import { REGISTRY_ENV } from '../config/env';
import type { RegistryEnv } from '../config/env';
import { BUILTIN_SERVERS } from './builtin-servers';
import { findInstalledPackage, splitPackageSpec } from '@athenic/mcp-packages';
import { McpServerEntity } from './mcp-server.entity';
import { McpServersRepository } from './mcp-servers.repository';
import { checkServerType } from './server-type-rules';

@Injectable()
export class McpServersService {
  private readonly log = new Logger(McpServersService.name);

  constructor(
    private readonly repository: McpServersRepository,
    private readonly outbox: Outbox,
    @Inject(REGISTRY_ENV) private readonly env: RegistryEnv,
  ) {}

  async list(): Promise<McpServerList> {
    return { data: (await this.repository.list()).map(toEntry) };
  }

  async get(id: string): Promise<McpServerEntry> {
    const row = await this.repository.findById(id);
    if (!row)
      throw new DomainError(
        'not_found',
        `No MCP server type "${id}" exists; list them with GET /functions/v1/mcp-servers.`,
      );
    return toEntry(row);
  }

  async create(command: CreateMcpServerCommand): Promise<McpServerEntry> {
    const row = await this.validated(command, false);
    const created = await this.outbox.transaction(async (manager, emit) => {
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
    this.log.log(`Server type ${command.id} added`);
    return created;
  }

  /** Brings the shipped types up to date; run at every start, a no-op when nothing changed. */
  async seedBuiltins(): Promise<void> {
    for (const type of BUILTIN_SERVERS) {
      const row = await this.validated(type, true);
      const existing = await this.repository.findById(type.id);
      if (existing && isDeepStrictEqual(comparable(existing), comparable(row))) continue;
      await this.repository.upsertBuiltin(row);
      this.log.log(`Built-in server type ${type.id} ${existing ? 'updated' : 'added'}`);
    }
  }

  private async validated(
    command: CreateMcpServerCommand,
    builtin: boolean,
  ): Promise<Omit<McpServerEntity, 'createdAt' | 'updatedAt'>> {
    const pkg = command.package ? splitPackageSpec(command.package) : undefined;
    const installed = pkg
      ? await findInstalledPackage(this.env.MCP_PACKAGES_DIR, pkg.name)
      : undefined;
    const problems = checkServerType(
      command,
      installed && installed.version === pkg?.version ? installed : undefined,
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
      transport: command.transport,
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
    };
  }
}

function comparable(row: Omit<McpServerEntity, 'createdAt' | 'updatedAt'>): unknown {
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
    created_at: row.createdAt.toISOString(),
    updated_at: row.updatedAt.toISOString(),
  };
}
