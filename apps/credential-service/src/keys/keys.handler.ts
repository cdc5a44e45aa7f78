import {
  CredentialKeysRetire,
  CredentialKeysRotate,
  CredentialKeysStatus,
  type KeyStatusReply,
  type RetireKeyCommand,
  type RotateKeysCommand,
} from '@athenic/contracts';
import { Handle } from '@athenic/messaging';
import { Controller } from '@nestjs/common';
import { RotationService } from './rotation.service';

@Controller()
export class KeysHandler {
  constructor(private readonly rotation: RotationService) {}

  @Handle(CredentialKeysRotate)
  rotate(command: RotateKeysCommand): Promise<KeyStatusReply> {
    return this.rotation.start(command.actor);
  }

  @Handle(CredentialKeysStatus)
  status(): Promise<KeyStatusReply> {
    return this.rotation.status();
  }

  @Handle(CredentialKeysRetire)
  retire(command: RetireKeyCommand): Promise<KeyStatusReply> {
    return this.rotation.retire(command.version, command.actor);
  }
}
