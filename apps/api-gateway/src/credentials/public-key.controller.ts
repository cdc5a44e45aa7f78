import { CredentialPublicKeyGet, type PublicKeyReply } from '@athenic/contracts';
import { BusClient } from '@athenic/messaging';
import { Controller, Get } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiProperty, ApiResponse, ApiTags } from '@nestjs/swagger';

class PublicKeyView {
  @ApiProperty({ description: 'Put it in the JWE header as "kid".' })
  kid: string;

  @ApiProperty({
    description: 'EC P-256 public key (JWK).',
    type: 'object',
    additionalProperties: true,
  })
  jwk: Record<string, unknown>;
}

@ApiTags('credentials')
@ApiBearerAuth()
@Controller('functions/v1/credentials')
export class PublicKeyController {
  constructor(private readonly bus: BusClient) {}

  @Get('public-key')
  @ApiOperation({
    summary:
      'The key a client may seal a credential value with itself: a compact JWE (alg ECDH-ES+A256KW, enc A256GCM, header kid), its protected header binding it to the account (ath_acct), the purpose (ath_purp: connection-credentials) and the connection (ath_cid: at install installConnectionId(account, Idempotency-Key), sending that key). Sealed and plain values are both accepted.',
  })
  @ApiResponse({ status: 200, type: PublicKeyView })
  get(): Promise<PublicKeyReply> {
    return this.bus.send(CredentialPublicKeyGet, {});
  }
}
