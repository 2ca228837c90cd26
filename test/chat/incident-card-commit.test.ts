/**
 * An incident's card is queued in the transaction that stores the signal opening it: a crash or a
 * write that cannot commit leaves both or neither, never an incident whose card never goes out.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { incidents } from '../../src/db/schema.js';
import type { SignalInput } from '../../src/signals/types.js';
import { type AgentKit, agentKit } from '../helpers/agent-kit.js';

let kit: AgentKit | null = null;

afterEach(() => {
  kit?.close();
  kit = null;
});

function alertInput(name: string): SignalInput {
  return {
    kind: 'alert',
    source: 'alertmanager',
    dedupeKey: `am-${name}`,
    fingerprint: `${name}:web`,
    title: `${name} on web`,
    service: 'web',
    severity: 'critical',
    payload: {},
  };
}

const cards = (k: AgentKit) => k.messages().filter((m) => m.message.kind === 'alert');

describe("an incident's card", () => {
  it('commits with the signal that opens it: a write that cannot commit (a full disk) stores neither, and the retry both', () => {
    const k = agentKit();
    kit = k;
    const sqlite = k.db.database.sqlite;
    const outbox = k.core.outbox;
    const enqueue = outbox.enqueue.bind(outbox);
    let failNext = true;
    outbox.enqueue = (...args: Parameters<typeof enqueue>) => {
      if (failNext) {
        failNext = false;
        // A foreign key checked at COMMIT: the transaction that queues the card cannot commit, as
        // on a full disk.
        sqlite.pragma('defer_foreign_keys = ON');
        sqlite
          .prepare(
            "UPDATE signals SET incident_id = 'no-such-incident' WHERE rowid = (SELECT max(rowid) FROM signals)",
          )
          .run();
      }
      return enqueue(...args);
    };

    // The sender hears that the signal was not stored, and sends it again (Alertmanager does).
    expect(() => k.core.signals.ingest([alertInput('DiskFull')])).toThrow(/FOREIGN KEY/);
    expect(k.db.database.db.select().from(incidents).all()).toEqual([]);
    expect(cards(k)).toEqual([]);

    k.core.signals.ingest([alertInput('DiskFull')]);
    const stored = k.db.database.db.select().from(incidents).all();
    expect(stored.map((i) => i.number)).toEqual([1]);
    expect(cards(k).map((m) => m.message.refs)).toEqual([{ incident: 'i1' }]);
    expect(stored[0]?.messageRefs).toHaveLength(1);
  });

  it("commits a person's acknowledgement with the card's update: when they cannot commit, neither is, and the command says so", () => {
    const k = agentKit();
    kit = k;
    k.core.signals.ingest([alertInput('AckMe')]);
    const sqlite = k.db.database.sqlite;
    const outbox = k.core.outbox;
    const enqueue = outbox.enqueue.bind(outbox);
    let failNext = true;
    outbox.enqueue = (...args: Parameters<typeof enqueue>) => {
      if (failNext && args[2]?.op === 'update') {
        failNext = false;
        sqlite.pragma('defer_foreign_keys = ON');
        sqlite.prepare("UPDATE signals SET incident_id = 'no-such-incident'").run();
      }
      return enqueue(...args);
    };
    const acknowledge = () => k.core.commands.incidents.acknowledge('i1', 'slack:user:U0OPERATOR');
    expect(acknowledge).toThrow(/FOREIGN KEY/);
    expect(k.db.database.db.select().from(incidents).all()[0]?.acknowledgedBy).toBeNull();
    expect(k.messages().filter((m) => m.message.body?.startsWith('acknowledged by'))).toEqual([]);

    expect(acknowledge()).toMatch(/i1/);
    expect(k.db.database.db.select().from(incidents).all()[0]?.acknowledgedBy).toBe('slack:user:U0OPERATOR');
    const updates = k.messages().filter((m) => m.message.body?.startsWith('acknowledged by'));
    expect(updates.map((m) => m.message.refs)).toEqual([{ incident: 'i1' }]);
  });

  it('that cannot be queued leaves the signal and its incident stored, and says so in the log', () => {
    const k = agentKit();
    kit = k;
    const outbox = k.core.outbox;
    outbox.enqueue = () => {
      throw new Error('the outbox refused the card');
    };
    const [outcome] = k.core.signals.ingest([alertInput('CardRefused')]);
    expect(outcome?.status).toBe('stored');
    expect(k.db.database.db.select().from(incidents).all()).toHaveLength(1);
    expect(k.logs.messages()).toContain('an incident card or update could not be queued');
  });
});
