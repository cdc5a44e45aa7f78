import { SandboxConnectionTouch } from '@athenic/contracts';
import { BusClient } from '@athenic/messaging';
import {
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';

const FLUSH_MS = 5000;

/** Use of connections, reported to the sandbox service in batches (not one write per message). */
@Injectable()
export class ActivityRecorder implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly log = new Logger('Activity');
  private touched = new Set<string>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly bus: BusClient) {}

  touch(connectionId: string): void {
    this.touched.add(connectionId);
  }

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => void this.flush(), FLUSH_MS);
    this.timer.unref();
  }

  async flush(): Promise<void> {
    if (this.touched.size === 0) return;
    const ids = [...this.touched];
    this.touched = new Set();
    try {
      await this.bus.send(SandboxConnectionTouch, {
        connection_ids: ids,
        at: new Date().toISOString(),
      });
    } catch (error) {
      // Try again with the next batch.
      for (const id of ids) this.touched.add(id);
      this.log.warn(
        `Could not record activity yet: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.flush();
  }
}
