import { Controller, Get, Req } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Request } from 'express';

export interface WhoAmI {
  /** `service` (the service role key: every account, the admin routes) or `account`. */
  role: 'service' | 'account';
  /** An account key's account; null for the service role. */
  account_id: string | null;
}

@ApiTags('auth')
@ApiBearerAuth()
@Controller('functions/v1/whoami')
export class WhoAmIController {
  @Get()
  @ApiOperation({
    summary:
      "Who the key is: the service role, or an account key and its account (the console's sign-in uses it).",
  })
  get(@Req() req: Request): WhoAmI {
    const principal = req.principal!;
    return principal.kind === 'service'
      ? { role: 'service', account_id: null }
      : { role: 'account', account_id: principal.accountId };
  }
}
