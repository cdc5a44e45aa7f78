import { Injectable } from '@nestjs/common';
import { DataSource, type EntityManager, type Repository } from 'typeorm';
import type { QueryDeepPartialEntity } from 'typeorm/query-builder/QueryPartialEntity';
import { McpServerEntity } from './mcp-server.entity';

@Injectable()
export class McpServersRepository {
  private readonly rows: Repository<McpServerEntity>;

  constructor(dataSource: DataSource) {
    this.rows = dataSource.getRepository(McpServerEntity);
  }

  /** Entries not deleted; with `accountId`, the public ones and that account's templates. */
  list(accountId?: string): Promise<McpServerEntity[]> {
    const query = this.rows
      .createQueryBuilder('s')
      .where('s.deleted_at IS NULL')
      .orderBy('s.id', 'ASC');
    if (accountId !== undefined)
      query.andWhere(`(s.visibility = 'public' OR s.account_id = :accountId)`, { accountId });
    return query.getMany();
  }

  /** The account's templates not deleted (in the caller's transaction). */
  countTemplates(manager: EntityManager, accountId: string): Promise<number> {
    return manager
      .getRepository(McpServerEntity)
      .createQueryBuilder('s')
      .where('s.account_id = :accountId AND s.deleted_at IS NULL', { accountId })
      .getCount();
  }

  findById(id: string): Promise<McpServerEntity | null> {
    return this.rows.findOneBy({ id });
  }

  /** Inserts (in the caller's transaction); returns false when the id is taken. */
  async insert(
    manager: EntityManager,
    row: Omit<McpServerEntity, 'createdAt' | 'updatedAt'>,
  ): Promise<boolean> {
    const result = await manager
      .getRepository(McpServerEntity)
      .createQueryBuilder()
      .insert()
      .values(row as QueryDeepPartialEntity<McpServerEntity>)
      .orIgnore()
      .returning(['id'])
      .execute();
    return result.raw.length > 0;
  }

  /** Inserts or updates a shipped type, keeping its creation time. */
  async upsertBuiltin(row: Omit<McpServerEntity, 'createdAt' | 'updatedAt'>): Promise<void> {
    await this.rows.upsert(
      { ...row, updatedAt: new Date() } as QueryDeepPartialEntity<McpServerEntity>,
      { conflictPaths: ['id'] },
    );
  }
}
