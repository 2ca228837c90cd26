/**
 * The database as a service of the bot: the checkpoint thread while it runs (checkpointer.ts), a
 * `select 1` for its health, and the connection closed when it stops. It is the first part the bot
 * starts, so it is the last to stop: every other part has finished its writes by then.
 */
import type { Service, ServiceHealth } from '../service.js';
import { type Checkpointer, type CheckpointerOptions, startCheckpointer } from './checkpointer.js';
import type { Database } from './connection.js';

export class DatabaseService implements Service {
  readonly name = 'database';
  readonly essential = true;
  #checkpointer: Checkpointer | null = null;

  constructor(
    private readonly database: Database,
    private readonly checkpoints: CheckpointerOptions = {},
  ) {}

  start(): void {
    this.#checkpointer ??= startCheckpointer(this.database, this.checkpoints);
  }

  health(): ServiceHealth {
    try {
      this.database.sqlite.prepare('select 1').get();
      return { status: 'ok', detail: this.database.file };
    } catch (err) {
      return { status: 'down', detail: (err as Error).message };
    }
  }

  async stop(): Promise<void> {
    await this.#checkpointer?.stop();
    this.#checkpointer = null;
    if (this.database.sqlite.open) this.database.close();
  }
}
