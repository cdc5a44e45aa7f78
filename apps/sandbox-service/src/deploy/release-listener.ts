import {
  type ConnectionDeletedEvent,
  type ConnectionStatusChangedEvent,
  SandboxConnectionDeleted,
  SandboxConnectionStatusChanged,
} from '@athenic/contracts';
import { Handle } from '@athenic/messaging';
import { Controller } from '@nestjs/common';
import { Supervisor } from './supervisor';

/**
 * Every sandbox-service replica hears every change of a connection (docs/lifecycle.md,
 * "Replicas"): a stop, delete or redeploy handled by another replica stops this one's copy at
 * once.
 */
@Controller()
export class ReleaseListener {
  constructor(private readonly supervisor: Supervisor) {}

  @Handle(SandboxConnectionStatusChanged, { everyReplica: true })
  changed(event: ConnectionStatusChangedEvent): Promise<void> {
    return this.supervisor.releaseIfNotHeld(event.connection_id);
  }

  @Handle(SandboxConnectionDeleted, { everyReplica: true })
  deleted(event: ConnectionDeletedEvent): Promise<void> {
    return this.supervisor.releaseIfNotHeld(event.connection_id);
  }
}
