import {
  CredentialPublicKeyGet,
  CredentialSetDelete,
  CredentialSetReveal,
  CredentialSetStore,
  CredentialSetValidate,
  type DeleteCredentialsCommand,
  type DeletedCredentialsReply,
  type PublicKeyReply,
  type RevealCredentialsCommand,
  type RevealedCredentialsReply,
  type StoreCredentialsCommand,
  type StoredCredentialsReply,
  type ValidateCredentialsCommand,
  type ValidatedCredentialsReply,
} from '@athenic/contracts';
import { Handle } from '@athenic/messaging';
import { Controller } from '@nestjs/common';
import { TransportKeyService } from '../keys/transport-key.service';
import { CredentialSetsService } from './credential-sets.service';

@Controller()
export class CredentialSetsHandler {
  constructor(
    private readonly sets: CredentialSetsService,
    private readonly transport: TransportKeyService,
  ) {}

  @Handle(CredentialPublicKeyGet)
  publicKey(): PublicKeyReply {
    return this.transport.publicKey();
  }

  @Handle(CredentialSetValidate)
  validate(command: ValidateCredentialsCommand): Promise<ValidatedCredentialsReply> {
    return this.sets.validate(command);
  }

  @Handle(CredentialSetStore)
  store(command: StoreCredentialsCommand): Promise<StoredCredentialsReply> {
    return this.sets.store(command);
  }

  @Handle(CredentialSetReveal)
  reveal(command: RevealCredentialsCommand): Promise<RevealedCredentialsReply> {
    return this.sets.reveal(command);
  }

  @Handle(CredentialSetDelete)
  delete(command: DeleteCredentialsCommand): Promise<DeletedCredentialsReply> {
    return this.sets.delete(command);
  }
}
