import {
  AgentRunGet,
  AgentRunList,
  type RunList,
  type RunListQuery,
  AgentRunStart,
  type RunAccepted,
  type RunQuery,
  type RunView,
  type StartRunCommand,
} from '@athenic/contracts';
import { Handle } from '@athenic/messaging';
import { Controller } from '@nestjs/common';
import { RunsService } from './runs.service';

@Controller()
export class RunsHandler {
  constructor(private readonly runs: RunsService) {}

  @Handle(AgentRunStart)
  start(command: StartRunCommand): Promise<RunAccepted> {
    return this.runs.start(command);
  }

  @Handle(AgentRunList)
  list(query: RunListQuery): Promise<RunList> {
    return this.runs.list(query.account_id, query.limit ?? 20);
  }

  @Handle(AgentRunGet)
  get(query: RunQuery): Promise<RunView> {
    return this.runs.get(query.id, query.account_id);
  }
}
