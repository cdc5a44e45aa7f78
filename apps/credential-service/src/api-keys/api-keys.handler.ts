import {
  type ApiKeyList,
  type ApiKeyView,
  CredentialApiKeyCreate,
  CredentialApiKeyList,
  CredentialApiKeyRevoke,
  CredentialApiKeyVerify,
  type CreateApiKeyCommand,
  type ListApiKeysQuery,
  type RevokeApiKeyCommand,
  type VerifiedApiKey,
  type VerifyApiKeyQuery,
} from '@athenic/contracts';
import { Handle } from '@athenic/messaging';
import { Controller } from '@nestjs/common';
import { ApiKeysService } from './api-keys.service';

@Controller()
export class ApiKeysHandler {
  constructor(private readonly apiKeys: ApiKeysService) {}

  @Handle(CredentialApiKeyCreate)
  create(command: CreateApiKeyCommand): Promise<ApiKeyView> {
    return this.apiKeys.create(command);
  }

  @Handle(CredentialApiKeyList)
  list(query: ListApiKeysQuery): Promise<ApiKeyList> {
    return this.apiKeys.list(query.account_id);
  }

  @Handle(CredentialApiKeyRevoke)
  revoke(command: RevokeApiKeyCommand): Promise<ApiKeyView> {
    return this.apiKeys.revoke(command);
  }

  @Handle(CredentialApiKeyVerify)
  verify(query: VerifyApiKeyQuery): Promise<VerifiedApiKey> {
    return this.apiKeys.verify(query.key_hash);
  }
}
