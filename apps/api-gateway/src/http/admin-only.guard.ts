import { type CanActivate, type ExecutionContext, Injectable, SetMetadata } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { DomainError } from '@athenic/contracts';
import type { Request } from 'express';

const ADMIN_ONLY = 'athenic:admin-only';

/** Marks a route only the service role key may call. */
export const AdminOnly = () => SetMetadata(ADMIN_ONLY, true);

@Injectable()
export class AdminOnlyGuard implements CanActivate {
  constructor(private readonly reflector: Reflector) {}

  canActivate(context: ExecutionContext): boolean {
    const adminOnly = this.reflector.getAllAndOverride<boolean>(ADMIN_ONLY, [
      context.getHandler(),
      context.getClass(),
    ]);
    if (!adminOnly) return true;
    const req = context.switchToHttp().getRequest<Request>();
    if (req.principal?.kind === 'service') return true;
    throw new DomainError('forbidden', 'This route needs the service role key.');
  }
}
