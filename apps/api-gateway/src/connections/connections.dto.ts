import { IsAccountId } from '@athenic/contracts';
import { ApiProperty } from '@nestjs/swagger';
import {
  IsInt,
  IsObject,
  IsOptional,
  IsString,
  Max,
  MaxLength,
  Min,
  MinLength,
} from 'class-validator';
import { Type } from 'class-transformer';

export class InstallBody {
  @ApiProperty({ example: 'github-server' })
  @IsString()
  @MinLength(1)
  @MaxLength(64)
  mcp_server_id: string;

  @ApiProperty({
    example: 'user-account-id',
    required: false,
    description: 'Required with the service role key.',
  })
  @IsOptional()
  @IsAccountId()
  account_id?: string;

  @ApiProperty({ example: 'GitHub Integration' })
  @IsString()
  @MinLength(1)
  @MaxLength(200)
  title: string;

  @ApiProperty({
    required: false,
    description:
      'Credential name to value. A value may be sealed by the client (compact JWE for GET /functions/v1/credentials/public-key, protected header ath_acct: the account, ath_purp: connection-credentials, ath_cid: the connection, at install installConnectionId(account, Idempotency-Key), so an install with client-sealed values must send an Idempotency-Key); any other string is taken as plaintext and sealed by the gateway. A sealed value bound elsewhere is refused (400 naming the field).',
    example: { github_token: 'YOUR_ENCRYPTED_TOKEN' },
  })
  @IsOptional()
  @IsObject()
  provided_credential_schema?: Record<string, unknown>;

  @ApiProperty({
    required: false,
    description: 'Settings of the server type, plus persistent_storage (boolean).',
  })
  @IsOptional()
  @IsObject()
  config?: Record<string, unknown>;
}

export class CredentialsBody {
  @ApiProperty({ example: { github_token: 'ghp_...' } })
  @IsObject()
  provided_credential_schema: Record<string, unknown>;
}

export class AccountQuery {
  @ApiProperty({ required: false })
  @IsOptional()
  @IsString()
  account_id?: string;
}

export class LogsQuery {
  @ApiProperty({ required: false, minimum: 1, maximum: 1000, default: 100 })
  @IsOptional()
  @Type(() => Number)
  @IsInt({ message: 'tail must be an integer between 1 and 1000' })
  @Min(1, { message: 'tail must be an integer between 1 and 1000' })
  @Max(1000, { message: 'tail must be an integer between 1 and 1000' })
  tail?: number;
}

export class ConnectionResponse {
  @ApiProperty() id: string;
  @ApiProperty() account_id: string;
  @ApiProperty() mcp_server_id: string;
  @ApiProperty() title: string;
  @ApiProperty({ enum: ['mcpPending', 'mcpDeploying', 'mcpRunning', 'mcpStopped', 'mcpError'] })
  status: string;
  @ApiProperty() status_reason: string;
  @ApiProperty({ enum: ['running', 'stopped'] }) desired_state: string;
  @ApiProperty({ enum: ['bubblewrap', 'none', 'e2b', 'remote'], nullable: true, type: String })
  isolation: string | null;
  @ApiProperty({ description: "The gateway's MCP endpoint of this connection." }) mcp_url: string;
  @ApiProperty() created_at: string;
  @ApiProperty() updated_at: string;
  @ApiProperty({ nullable: true, type: String }) last_active_at: string | null;
}
